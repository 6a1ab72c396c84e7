"""The dnbot stack: every AWS resource the bot runs on.

What exists (table, keys, kill switch, functions, schedules, state machines) comes from `dnbot.resources` and
`dnbot.workflows.definitions`, the same description `dnbot local` builds its in-process AWS from; this module
only decides how each is deployed (encryption, IAM, wiring). Nothing here may need Docker: the Lambda code is
the functions/<name>/ directory as it stands, the libraries are layers (`make layers`), the dashboard is the
built frontend/dist (`make frontend`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import aws_cdk as cdk
import build_layers
import jsii
import nag_acknowledgements
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as apigwv2_integrations
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as lambda_event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from dnbot import resources
from dnbot.workflows import definitions

REPO_ROOT = build_layers.REPO_ROOT
DEFAULT_FUNCTIONS_ROOT = REPO_ROOT / "functions"
DEFAULT_FRONTEND_DIST = REPO_ROOT / "frontend" / "dist"
DNBOT_LAYER_DIR = REPO_ROOT / "layers" / "dnbot"

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_11
LAMBDA_ARCHITECTURE = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}[
    build_layers.LAMBDA_ARCHITECTURE
]
# Every functions/<name>/handler.py exports `handler(event, context)`.
HANDLER = "handler.handler"

# The Privy app's id, secret and verification key live in ONE Secrets Manager secret (JSON with the keys
# below). The stack creates it with a placeholder; the operator writes the real values (docs/deploy.md).
# Functions get its ARN, never its value, so the secret stays out of the Lambda configuration.
# Not yet in dnbot.resources (requested there, with a Settings field; then this constant goes).
ENV_PRIVY_SECRET_ARN = "DNBOT_PRIVY_SECRET_ARN"
PRIVY_SECRET_KEYS = ("app_id", "app_secret", "verification_key")
# The browser's WebSocket URL (wss://<dashboard host>/live), for GET /api/v1/config. ENV_WEBSOCKET_ENDPOINT is
# the https management endpoint the broadcaster posts to, which a browser cannot use.
# Not yet in dnbot.resources (requested there, with a Settings field; then this constant goes).
ENV_WEBSOCKET_URL = "DNBOT_WEBSOCKET_URL"
# Settings.admin_emails (who may flip the kill switch from the dashboard), from `-c adminEmails=a@x,b@y`.
ENV_ADMIN_EMAILS = "DNBOT_ADMIN_EMAILS"

ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "*.egg-info", "**/.mypy_cache", "**/.pytest_cache"]


@dataclass(frozen=True, slots=True)
class Grants:
    """What one function may do beyond logging and tracing. Least privilege: everything defaults to no."""

    table: bool = True
    read_kill_switch: bool = False
    write_kill_switch: bool = False  # only the API's emergency stop
    start_workflows: bool = False
    envelope_crypto: bool = False  # kms:Decrypt + kms:GenerateDataKey on the envelope key
    privy_sign: bool = False  # kms:Sign on the Privy authorization key
    privy_public_key: bool = False  # kms:GetPublicKey on it: the owner key new Privy wallets are created with
    privy_secret: bool = False
    manage_websocket: bool = False


# Keyed by FunctionSpec.name; a name in resources.FUNCTIONS without an entry fails synthesis, so a new function
# cannot ship with grants nobody decided on.
FUNCTION_GRANTS: dict[str, Grants] = {
    # The API reads the kill switch for /status, flips it for the emergency stop, starts open/close workflows,
    # and verifies Privy access tokens (app id + verification key from the Privy secret).
    # and creates a new user's Privy wallets at first login (owned by the authorization key: its public half).
    "api": Grants(read_kill_switch=True, write_kill_switch=True, start_workflows=True, privy_secret=True,
                  privy_public_key=True),
    "rates_poller": Grants(),
    "strategy_tick": Grants(read_kill_switch=True, start_workflows=True),
    # The trading steps decrypt agent-wallet keys and sign Privy wallet-API requests.
    "position_steps": Grants(read_kill_switch=True, envelope_crypto=True, privy_sign=True, privy_public_key=True,
                             privy_secret=True),
    "ws_connections": Grants(),
    "ws_broadcast": Grants(manage_websocket=True),
}

# Functions whose events come from an API rather than a schedule or a workflow.
HTTP_API_FUNCTION = "api"
WS_CONNECT_FUNCTION = "ws_connections"
WS_BROADCAST_FUNCTION = "ws_broadcast"

KILL_SWITCH_PATTERN = "^(" + "|".join(v.value for v in resources.KillSwitch) + ")$"


@dataclass(frozen=True)
class DnbotStackInputs:
    """Where the stack's assets come from (tests point these at temp dirs)."""

    functions_root: Path = DEFAULT_FUNCTIONS_ROOT
    layers_root: Path = build_layers.BUILD_DIR
    frontend_dist: Path = DEFAULT_FRONTEND_DIST
    admin_emails: tuple[str, ...] = field(default_factory=tuple)

    def validate(self) -> None:
        """Fail before synthesis with the command that fixes each missing input."""
        problems: list[str] = []
        for spec in resources.FUNCTIONS:
            if spec.name not in FUNCTION_GRANTS:
                problems.append(f"function {spec.name!r} has no entry in FUNCTION_GRANTS (infra/dnbot_stack.py)")
            if not (self.functions_root / spec.name / "handler.py").is_file():
                problems.append(f"Lambda code missing: {self.functions_root / spec.name / 'handler.py'}")
        for name in sorted({spec.layer for spec in resources.FUNCTIONS}):
            try:
                build_layers.check_layer(name, self.layers_root)
            except ValueError as exc:
                problems.append(str(exc))
        if not (self.frontend_dist / "index.html").is_file():
            problems.append(f"dashboard not built ({self.frontend_dist / 'index.html'} is missing): "
                            "run `make frontend`")
        if problems:
            raise ValueError("cannot synthesize the dnbot stack:\n  - " + "\n  - ".join(problems))


class DnbotStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, inputs: DnbotStackInputs | None = None,
                 env: cdk.Environment | None = None) -> None:
        super().__init__(scope, construct_id, env=env,
                         description="dnbot: delta-neutral funding-rate bot (Asgard long, Hyperliquid short)")
        self.inputs = inputs or DnbotStackInputs()
        self.inputs.validate()

        self.table = self._state_table()
        self.envelope_key, self.privy_key = self._keys()
        self.kill_switch = ssm.StringParameter(
            self, "KillSwitch",
            parameter_name=resources.KILL_SWITCH_PARAMETER,
            string_value=resources.KILL_SWITCH_DEFAULT.value,
            allowed_pattern=KILL_SWITCH_PATTERN,
            description="dnbot kill switch: " + " | ".join(v.value for v in resources.KillSwitch),
            tier=ssm.ParameterTier.STANDARD,
        )
        self.privy_secret = secretsmanager.Secret(
            self, "PrivySecret",
            description="Privy app credentials for dnbot: JSON {" + ", ".join(PRIVY_SECRET_KEYS) + "}",
            # A placeholder Privy rejects; the operator overwrites the whole JSON (docs/deploy.md).
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({k: "" for k in PRIVY_SECRET_KEYS if k != "app_secret"}),
                generate_string_key="app_secret",
                exclude_punctuation=True,
            ),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

        self.websocket_api, self.websocket_stage = self._websocket_api()
        self.layers = self._layers()
        self.functions = {spec.name: self._function(spec) for spec in resources.FUNCTIONS}
        self.state_machines = {spec.name: self._state_machine(spec) for spec in resources.STATE_MACHINES}
        self._wire_functions()
        self._schedules()
        self.http_api = self._http_api()
        self.distribution = self._dashboard()
        self._outputs()
        self._acknowledge_nag_findings()

    # --- data and keys -------------------------------------------------------------------------------------

    def _state_table(self) -> dynamodb.Table:
        spec = resources.STATE_TABLE
        table = dynamodb.Table(
            self, spec.logical_id,
            partition_key=dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=spec.sort_key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=spec.ttl_attribute,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES if spec.stream else None,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            # AWS-managed rather than customer-managed: with a CMK every table reader (all six functions and
            # the stream poller) would need kms:Decrypt, and only the trading functions should hold KMS grants.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=dynamodb.Attribute(name=index.partition_key, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=index.sort_key, type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        return table

    def _keys(self) -> tuple[kms.Key, kms.Key]:
        envelope = kms.Key(
            self, "EnvelopeKey",
            alias=resources.ENVELOPE_KEY_ALIAS,
            description="dnbot: envelope encryption of agent-wallet keys (data keys, AES-256-GCM)",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        privy = kms.Key(
            self, "PrivyAuthorizationKey",
            alias=resources.PRIVY_AUTHORIZATION_KEY_ALIAS,
            description="dnbot: Privy authorization signatures (ECDSA P-256); the private half never leaves KMS",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        return envelope, privy

    # --- functions -----------------------------------------------------------------------------------------

    def _layers(self) -> dict[str, lambda_.LayerVersion]:
        def layer(construct_id: str, path: Path, description: str) -> lambda_.LayerVersion:
            return lambda_.LayerVersion(
                self, construct_id,
                code=lambda_.Code.from_asset(str(path), exclude=ASSET_EXCLUDES),
                compatible_runtimes=[LAMBDA_RUNTIME],
                compatible_architectures=[LAMBDA_ARCHITECTURE],
                description=description,
            )

        built: dict[str, lambda_.LayerVersion] = {
            name: layer(f"Deps{name.capitalize()}Layer", build_layers.check_layer(name, self.inputs.layers_root),
                        f"dnbot third-party dependencies: {name} set ({build_layers.PIP_PLATFORM})")
            for name in sorted({spec.layer for spec in resources.FUNCTIONS})
        }
        # The library ships as it stands in the repository: layers/dnbot/python/dnbot is already the layout
        # Lambda mounts at /opt/python.
        built["dnbot"] = layer("DnbotLibraryLayer", DNBOT_LAYER_DIR, "dnbot library")
        return built

    def _common_environment(self) -> dict[str, str]:
        return {
            resources.ENV_TABLE_NAME: self.table.table_name,
            resources.ENV_KILL_SWITCH_PARAMETER: self.kill_switch.parameter_name,
            resources.ENV_ENVELOPE_KEY_ID: self.envelope_key.key_arn,
            resources.ENV_PRIVY_AUTHORIZATION_KEY_ID: self.privy_key.key_arn,
            # The management endpoint (https://.../stage) that posts to connections, not the wss:// one.
            resources.ENV_WEBSOCKET_ENDPOINT: self.websocket_stage.callback_url,
            ENV_PRIVY_SECRET_ARN: self.privy_secret.secret_arn,
            "POWERTOOLS_SERVICE_NAME": "dnbot",
            "POWERTOOLS_METRICS_NAMESPACE": "dnbot",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            # Step results carry whole position states; keep them out of trace metadata.
            "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
        }

    def _function(self, spec: resources.FunctionSpec) -> lambda_.Function:
        construct_id = _camel(spec.name)
        log_group = logs.LogGroup(
            self, f"{construct_id}Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        environment = self._common_environment()
        if spec.name == HTTP_API_FUNCTION and self.inputs.admin_emails:
            # pydantic-settings parses a tuple field from JSON.
            environment[ENV_ADMIN_EMAILS] = json.dumps(list(self.inputs.admin_emails))
        # An own role rather than the default one with AWSLambdaBasicExecutionRole: that managed policy lets the
        # function write to any log group; this one may write only to its own.
        role = iam.Role(
            self, f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"dnbot {spec.name} Lambda",
        )
        log_group.grant_write(role)
        return lambda_.Function(
            self, construct_id,
            role=role,
            description=f"dnbot {spec.name}: {spec.description}",
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(self.inputs.functions_root / spec.name), exclude=ASSET_EXCLUDES),
            layers=[self.layers[spec.layer], self.layers["dnbot"]],
            memory_size=spec.memory_mb,
            timeout=cdk.Duration.seconds(spec.timeout_seconds),
            tracing=lambda_.Tracing.ACTIVE,
            environment=environment,
            log_group=log_group,
        )

    def _wire_functions(self) -> None:
        starters = list(self.state_machines.values())
        for name, fn in self.functions.items():
            grants = FUNCTION_GRANTS[name]
            if grants.table:
                self.table.grant_read_write_data(fn)
            if grants.read_kill_switch:
                self.kill_switch.grant_read(fn)
            if grants.write_kill_switch:
                self.kill_switch.grant_write(fn)
            if grants.envelope_crypto:
                self.envelope_key.grant(fn, "kms:Decrypt", "kms:GenerateDataKey")
            if grants.privy_sign:
                self.privy_key.grant(fn, "kms:Sign")
            if grants.privy_public_key:
                self.privy_key.grant(fn, "kms:GetPublicKey")
            if grants.privy_secret:
                self.privy_secret.grant_read(fn)
            if grants.manage_websocket:
                self.websocket_stage.grant_management_api_access(fn)
            if grants.start_workflows:
                for machine in starters:
                    machine.grant_start_execution(fn)
                # Only starters learn the ARNs: the workflows invoke position_steps, so giving it their ARNs
                # would make a dependency cycle (and it has no use for them).
                fn.add_environment(resources.ENV_OPEN_STATE_MACHINE_ARN,
                                   self.state_machines["open_position"].state_machine_arn)
                fn.add_environment(resources.ENV_CLOSE_STATE_MACHINE_ARN,
                                   self.state_machines["close_position"].state_machine_arn)

        self.stream_consumer_name = WS_BROADCAST_FUNCTION
        broadcast = self.functions[WS_BROADCAST_FUNCTION]
        broadcast.add_event_source(lambda_event_sources.DynamoEventSource(
            self.table,
            starting_position=lambda_.StartingPosition.LATEST,
            batch_size=100,
            max_batching_window=cdk.Duration.seconds(1),
            # Live updates are worthless when late: a few retries, then drop rather than block the shard.
            retry_attempts=2,
            max_record_age=cdk.Duration.minutes(5),
            bisect_batch_on_error=True,
        ))

    def _schedules(self) -> None:
        for spec in resources.FUNCTIONS:
            if spec.schedule_minutes is None:
                continue
            events.Rule(
                self, f"{_camel(spec.name)}Schedule",
                description=f"dnbot {spec.name} every {spec.schedule_minutes} min",
                schedule=events.Schedule.rate(cdk.Duration.minutes(spec.schedule_minutes)),
                # A late tick is superseded by the next one a minute later; do not pile up retries.
                targets=[events_targets.LambdaFunction(self.functions[spec.name], retry_attempts=0)],
            )

    # --- workflows -----------------------------------------------------------------------------------------

    def _state_machine(self, spec: resources.StateMachineSpec) -> sfn.StateMachine:
        construct_id = _camel(spec.name)
        log_group = logs.LogGroup(
            self, f"{construct_id}Logs",
            # The /aws/vendedlogs/ prefix keeps CloudWatch's resource policy small when many machines log.
            log_group_name=f"/aws/vendedlogs/states/{self.stack_name}-{spec.local_name}",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        machine = sfn.StateMachine(
            self, construct_id,
            comment=definitions.definition_for(spec.name).get("Comment"),
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(json.dumps(definitions.definition_for(spec.name))),
            definition_substitutions={
                placeholder: self.functions[function_name].function_arn
                for placeholder, function_name in spec.substitutions.items()
            },
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        for function_name in set(spec.substitutions.values()):
            self.functions[function_name].grant_invoke(machine)
        return machine

    # --- APIs ----------------------------------------------------------------------------------------------

    def _websocket_api(self) -> tuple[apigwv2.WebSocketApi, apigwv2.WebSocketStage]:
        # Created before the functions (the integrations are attached in _attach_websocket_routes) so every
        # function can be told the endpoint.
        api = apigwv2.WebSocketApi(self, "WebSocketApi", description="dnbot live updates")
        access_logs = logs.LogGroup(self, "WebSocketAccessLogs", retention=logs.RetentionDays.ONE_MONTH,
                                    removal_policy=cdk.RemovalPolicy.DESTROY)
        stage = apigwv2.WebSocketStage(
            self, "WebSocketStage",
            web_socket_api=api,
            stage_name="live",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=50, burst_limit=100),
            access_log_settings=AccessLogSettings(access_logs),
        )
        # The browser reaches the stage through CloudFront at this path (see _dashboard).
        self.websocket_path = f"/{stage.stage_name}"
        return api, stage

    def _http_api(self) -> apigwv2.HttpApi:
        api_fn = self.functions[HTTP_API_FUNCTION]
        api = apigwv2.HttpApi(self, "HttpApi", description="dnbot HTTP API (FastAPI via Mangum)",
                              create_default_stage=False)
        access_logs = logs.LogGroup(self, "HttpApiAccessLogs", retention=logs.RetentionDays.ONE_MONTH,
                                    removal_policy=cdk.RemovalPolicy.DESTROY)
        apigwv2.HttpStage(
            self, "HttpApiStage",
            http_api=api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=100, burst_limit=200),
            access_log_settings=AccessLogSettings(access_logs),
        )
        api.add_routes(
            path="/api/{proxy+}",
            methods=[apigwv2.HttpMethod.ANY],
            integration=apigwv2_integrations.HttpLambdaIntegration("ApiIntegration", api_fn),
        )

        # The WebSocket routes are attached here, after the functions exist.
        for route_key, construct_id in (("$connect", "Connect"), ("$disconnect", "Disconnect")):
            self.websocket_api.add_route(
                route_key,
                integration=apigwv2_integrations.WebSocketLambdaIntegration(
                    f"WebSocket{construct_id}Integration", self.functions[WS_CONNECT_FUNCTION]),
            )
        return api

    # --- dashboard -----------------------------------------------------------------------------------------

    def _dashboard(self) -> cloudfront.Distribution:
        bucket = s3.Bucket(
            self, "DashboardBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            # The bucket holds only the rebuildable dashboard build; teardown should not strand it.
            removal_policy=cdk.RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )
        # "https://<id>.execute-api.<region>.amazonaws.com" and "wss://..." -> the host name.
        api_domain = cdk.Fn.select(2, cdk.Fn.split("/", self.http_api.api_endpoint))
        ws_domain = cdk.Fn.select(2, cdk.Fn.split("/", self.websocket_api.api_endpoint))
        distribution = cloudfront.Distribution(
            self, "Dashboard",
            comment="dnbot dashboard and API (one origin, so the session cookie is first-party)",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
            ),
            additional_behaviors={
                "/api/*": cloudfront.BehaviorOptions(
                    origin=origins.HttpOrigin(api_domain, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    # Cookies, query strings and headers reach the API; Host must be API Gateway's own.
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                ),
                # The WebSocket API on the same origin too: a browser sends the (host-only) session cookie with
                # the upgrade only to the dashboard's host, and ws_connections needs it to know the user.
                self.websocket_path: cloudfront.BehaviorOptions(
                    origin=origins.HttpOrigin(ws_domain, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    # Forwards the Sec-WebSocket-* headers and the cookie; Host must be API Gateway's own.
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                ),
            },
            # No SPA error_responses: they would also rewrite the API's JSON 404s into index.html.
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
        )
        s3deploy.BucketDeployment(
            self, "DashboardDeployment",
            sources=[s3deploy.Source.asset(str(self.inputs.frontend_dist))],
            destination_bucket=bucket,
            distribution=distribution,
            distribution_paths=["/*"],
            memory_limit=256,
        )
        self.dashboard_bucket = bucket
        self.websocket_url = f"wss://{distribution.distribution_domain_name}{self.websocket_path}"
        # What the dashboard should connect to (GET /api/v1/config's websocket_url).
        self.functions[HTTP_API_FUNCTION].add_environment(ENV_WEBSOCKET_URL, self.websocket_url)
        return distribution

    # --- outputs and checks --------------------------------------------------------------------------------

    def _outputs(self) -> None:
        dashboard_url = f"https://{self.distribution.distribution_domain_name}"
        cdk.CfnOutput(self, "DashboardUrl", value=dashboard_url,
                      description="Open this in a browser: the dashboard (and, under /api, the API)")
        cdk.CfnOutput(self, "ApiUrl", value=f"{dashboard_url}/api/v1",
                      description="The HTTP API as the dashboard calls it (same origin as the dashboard)")
        cdk.CfnOutput(self, "HttpApiEndpoint", value=self.http_api.api_endpoint,
                      description="API Gateway's own endpoint (debugging; browsers use ApiUrl)")
        cdk.CfnOutput(self, "WebSocketUrl", value=self.websocket_url,
                      description="Live updates (wss://), through CloudFront so the session cookie is sent")
        cdk.CfnOutput(self, "TableName", value=self.table.table_name, description="DynamoDB state table")
        cdk.CfnOutput(self, "KillSwitchParameterName", value=self.kill_switch.parameter_name,
                      description="SSM parameter: " + " | ".join(v.value for v in resources.KillSwitch))
        cdk.CfnOutput(self, "PrivySecretArn", value=self.privy_secret.secret_arn,
                      description="Secrets Manager secret to fill with the Privy app credentials")

    def _acknowledge_nag_findings(self) -> None:
        nag_acknowledgements.acknowledge(self)


@jsii.implements(apigwv2.IAccessLogSettings)
class AccessLogSettings:
    """API Gateway stage access logs to a log group, as JSON (apigatewayv2 has an interface but no class)."""

    def __init__(self, group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.json_with_standard_fields(
            caller=False, http_method=True, ip=True, protocol=True, request_time=True, resource_path=True,
            response_length=True, status=True, user=False,
        )


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))

