"""The dnbot stack: every AWS resource the bot runs on.

What exists (table, keys, kill switch, functions, schedules, state machines) comes from `dnbot.resources` and
`dnbot.workflows.definitions`, the same description `dnbot local` builds its in-process AWS from; this module
only decides how each is deployed (encryption, IAM, wiring). Nothing here may need Docker: the Lambda code is
the functions/<name>/ directory as it stands, the libraries are layers (`make layers`), the dashboard is the
built frontend/dist (`make frontend`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
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
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as lambda_destinations
from aws_cdk import aws_lambda_event_sources as lambda_event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as sns_subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from dnbot import observability, resources
from dnbot.api.edge import API_CSP, DASHBOARD_CSP
from dnbot.security.origin import ORIGIN_VERIFY_HEADER
from dnbot.settings import Settings
from dnbot.workflows import definitions

REPO_ROOT = build_layers.REPO_ROOT
DEFAULT_FUNCTIONS_ROOT = REPO_ROOT / "functions"
DEFAULT_FRONTEND_DIST = REPO_ROOT / "frontend" / "dist"
DNBOT_LAYER_DIR = REPO_ROOT / "layers" / "dnbot"

# Python 3.12: the first Python runtime with SnapStart (Amazon Linux 2023). The layers are built for it
# (build_layers.LAMBDA_PYTHON_VERSION); the code and tests also run on 3.11 locally.
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_12
LAMBDA_ARCHITECTURE = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}[
    build_layers.LAMBDA_ARCHITECTURE
]
# Every functions/<name>/handler.py exports `handler(event, context)`.
HANDLER = "handler.handler"

# The Privy app's id, secret and verification key live in ONE Secrets Manager secret (JSON with the keys
# below). The stack creates it with a placeholder; the operator writes the real values (docs/deploy.md).
# Functions get its ARN (resources.ENV_PRIVY_SECRET_ARN), never its value, so the secret stays out of the
# Lambda configuration.
PRIVY_SECRET_KEYS = ("app_id", "app_secret", "verification_key")

ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "*.egg-info", "**/.mypy_cache", "**/.pytest_cache"]


@dataclass(frozen=True, slots=True)
class Grants:
    """What one function may do beyond logging and tracing. Least privilege: everything defaults to no."""

    table: bool = True
    read_kill_switch: bool = False
    write_kill_switch: bool = False  # only the API's emergency stop
    # The state machines (resources.STATE_MACHINES names) it starts: states:StartExecution on those only, and their
    # ARNs in its environment (STATE_MACHINE_ARN_ENV); no other function learns them.
    start_workflows: frozenset[str] = frozenset()
    envelope_crypto: bool = False  # kms:Decrypt + kms:GenerateDataKey on the envelope key
    privy_sign: bool = False  # kms:Sign on the Privy authorization key
    privy_public_key: bool = False  # kms:GetPublicKey on it: the owner key new Privy wallets are created with
    privy_secret: bool = False
    manage_websocket: bool = False
    sessions: bool = False  # read/write on the sessions table (sessions, codes, abuse counters, audit trail)
    publish_alerts: bool = False  # sns:Publish on the operator's alerts topic (its ARN in the environment)
    send_user_queue: bool = False  # sqs:SendMessage on the tick's fan-out queue (its URL in the environment)
    send_notifications: bool = False  # sqs:SendMessage on the user notification queue (its URL in the environment)
    send_reconcile_queue: bool = False  # sqs:SendMessage on the reconciler's fan-out queue (its URL in the environment)


# Keyed by FunctionSpec.name; a name in resources.FUNCTIONS without an entry fails synthesis, so a new function
# cannot ship with grants nobody decided on.
FUNCTION_GRANTS: dict[str, Grants] = {
    # The API reads the kill switch for /status, flips it for the emergency stop, starts a user's open and close
    # (services/positions.py) and a confirmed withdrawal (services/withdrawals.py), never a rebalance; verifies
    # Privy access tokens (app id + verification key from the Privy secret) and creates a new user's Privy wallets
    # at first login (owned by the authorization key: its public half).
    "api": Grants(read_kill_switch=True, write_kill_switch=True,
                  start_workflows=frozenset({"open_position", "close_position", "withdraw"}), privy_secret=True,
                  privy_public_key=True, sessions=True, send_notifications=True),
    "rates_poller": Grants(),
    # The tick reads the kill switch once and hands the users to the workers through the fan-out queue; the
    # workers decide per user, start the workflows, and enqueue the next page of users.
    "strategy_tick": Grants(read_kill_switch=True, send_user_queue=True),
    # The worker starts opens and closes (through services/positions.py) and, on a Rebalance decision, the
    # rebalance workflow; never a withdrawal. It only STARTS them: the worker signs nothing.
    "strategy_worker": Grants(start_workflows=frozenset({"open_position", "close_position", "rebalance_position"}),
                              send_user_queue=True),
    # The trading steps decrypt agent-wallet keys and sign Privy wallet-API requests (opens, closes, in-place
    # rebalances); a rebalance that cannot be done asks the workers for its close through the fan-out queue (the
    # steps cannot start workflows: the state machines invoke them).
    "position_steps": Grants(read_kill_switch=True, envelope_crypto=True, privy_sign=True, privy_public_key=True,
                             privy_secret=True, publish_alerts=True, send_user_queue=True),
    # The reconciler closes orphan legs and restores hedges with the steps' adapters, and alerts the operator;
    # its scheduled run enqueues the users on its own queue, which it consumes (resources.RECONCILE_QUEUE).
    "reconciler": Grants(envelope_crypto=True, privy_sign=True, privy_public_key=True, privy_secret=True,
                         publish_alerts=True, send_reconcile_queue=True),
    # The hourly PnL snapshots read the short's funding from Hyperliquid's public info endpoint (userFunding and
    # userFills by address: runtime.short_funding), never through the trading adapter: no Privy secret or key.
    "pnl_snapshots": Grants(),
    # $connect reads the session cookie to know whose updates a connection gets.
    "ws_connections": Grants(sessions=True),
    # ws_broadcast also turns new activity lines into user notifications (queued for the notifier).
    "ws_broadcast": Grants(manage_websocket=True, send_notifications=True),
    # The deposit sweep signs each bridge transfer with the user's Privy EVM wallet (authorization key signature,
    # Privy app credentials); no agent keys, so no envelope key.
    "deposit_sweep": Grants(privy_sign=True, privy_public_key=True, privy_secret=True),
    # The notifier reads the user's saved webhook (table) and POSTs to it; nothing else.
    "notifier": Grants(),
}

# The environment variable a starter reads each state machine's ARN from (settings.py).
STATE_MACHINE_ARN_ENV = {
    "open_position": resources.ENV_OPEN_STATE_MACHINE_ARN,
    "close_position": resources.ENV_CLOSE_STATE_MACHINE_ARN,
    "rebalance_position": resources.ENV_REBALANCE_STATE_MACHINE_ARN,
    "withdraw": resources.ENV_WITHDRAW_STATE_MACHINE_ARN,
}
# The machines whose starter reads an execution back (adapters/aws/stepfunctions.py): a start refused as
# ExecutionAlreadyExists describes that execution (still running? whose close is it?), so their starters also get
# states:DescribeExecution on those machines' executions. The withdrawal starter never reads one back.
READ_BACK_EXECUTIONS = frozenset({"open_position", "close_position", "rebalance_position"})

# SnapStart (docs/performance.md): the functions whose cold start someone waits for, the API (a user) and the
# trading steps (a half-open position). Lambda snapshots each published version after init; API Gateway and the
# state machines invoke the version through the LIVE_ALIAS, never $LATEST (which SnapStart does not cover).
SNAPSTART_FUNCTIONS = frozenset({"api", "position_steps"})
LIVE_ALIAS = "live"

# Functions whose events come from an API rather than a schedule or a workflow.
HTTP_API_FUNCTION = "api"
WS_CONNECT_FUNCTION = "ws_connections"
WS_BROADCAST_FUNCTION = "ws_broadcast"

# Asynchronous paths: how often each retries before its message lands in a dead-letter queue.
SCHEDULE_RETRY_ATTEMPTS = 2  # EventBridge delivery retries, and Lambda's async retries of a failed run
SCHEDULE_MIN_EVENT_AGE_MINUTES = 2  # Lambda's floor is 60 s; a scheduled run older than its period is stale
STREAM_RETRY_ATTEMPTS = 3  # stream batches (bisected on error) before the on-failure destination
QUEUE_MAX_RECEIVES = 5  # SQS deliveries of one message before its queue's DLQ
DLQ_RETENTION = cdk.Duration.days(14)  # SQS maximum: two weeks to look and redrive
# Alarms
TICK_DURATION_ALARM_FRACTION = 0.8  # of the function's timeout
API_5XX_ALARM_PERCENT = 5
API_5XX_MIN_REQUESTS = 20  # per 5 minutes, so one error on a quiet API does not page

# The edge (docs/security.md): WAF rate limits per IP. The origin check's header and the CSPs come from
# dnbot.api.edge, which sends the same headers on every /api response.
WAF_REQUESTS_PER_IP_PER_5_MIN = 1000
WAF_LOGIN_REQUESTS_PER_IP_PER_5_MIN = 100
ENV_ORIGIN_VERIFY_SECRET_ARN = "DNBOT_ORIGIN_VERIFY_SECRET_ARN"

KILL_SWITCH_PATTERN = "^(" + "|".join(v.value for v in resources.KillSwitch) + ")$"


@dataclass(frozen=True)
class DnbotStackInputs:
    """Where the stack's assets come from (tests point these at temp dirs)."""

    functions_root: Path = DEFAULT_FUNCTIONS_ROOT
    layers_root: Path = build_layers.BUILD_DIR
    frontend_dist: Path = DEFAULT_FRONTEND_DIST
    admin_emails: tuple[str, ...] = field(default_factory=tuple)
    # `-c alertEmail=ops@x,oncall@y`: e-mail subscriptions to the alerts topic (the operator confirms each).
    alert_emails: tuple[str, ...] = field(default_factory=tuple)
    # `-c webAclArn=<arn>`: a CLOUDFRONT-scope web ACL made in us-east-1, for a stack deployed elsewhere.
    web_acl_arn: str | None = None
    # `-c emailSender=withdrawals@example.com`: the SES-verified sender of withdrawal codes (none: no withdrawals).
    email_sender: str | None = None

    def validate(self) -> None:
        """Fail before synthesis with the command that fixes each missing input."""
        problems: list[str] = []
        for spec in resources.FUNCTIONS:
            if spec.name not in FUNCTION_GRANTS:
                problems.append(f"function {spec.name!r} has no entry in FUNCTION_GRANTS (infra/dnbot_stack.py)")
            elif unknown := FUNCTION_GRANTS[spec.name].start_workflows - STATE_MACHINE_ARN_ENV.keys():
                problems.append(f"function {spec.name!r} starts unknown state machines {sorted(unknown)} "
                                "(FUNCTION_GRANTS, STATE_MACHINE_ARN_ENV)")
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
        self.dead_letter_queues: dict[str, sqs.Queue] = {}  # filled by _dead_letter_queue

        self.table = self._table(resources.STATE_TABLE, dynamodb.ProjectionType.ALL)
        self.sessions_table = self._table(resources.SESSIONS_TABLE, dynamodb.ProjectionType.KEYS_ONLY)
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

        self.origin_secret = secretsmanager.Secret(
            self, "OriginVerifySecret",
            description="dnbot: the X-Origin-Verify header CloudFront sends to the APIs (rotate: redeploy)",
            generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, password_length=48),
        )
        self.websocket_api, self.websocket_stage = self._websocket_api()
        self.layers = self._layers()
        self.functions = {spec.name: self._function(spec) for spec in resources.FUNCTIONS}
        # The published version (a new one whenever the code, layers or configuration change) behind an alias.
        self.aliases = {name: lambda_.Alias(self, f"{_camel(name)}LiveAlias", alias_name=LIVE_ALIAS,
                                            version=self.functions[name].current_version,
                                            description=f"dnbot {name}: the SnapStart version invoked")
                        for name in sorted(SNAPSTART_FUNCTIONS) if name in self.functions}
        self.state_machines = {spec.name: self._state_machine(spec) for spec in resources.STATE_MACHINES}
        self._wire_functions()
        self._name_key_users()
        self._schedules()
        self.http_api = self._http_api()
        self.distribution = self._dashboard()
        self._operations()
        self._outputs()
        self._acknowledge_nag_findings()

    # --- data and keys -------------------------------------------------------------------------------------

    def _table(self, spec: resources.TableSpec, index_projection: dynamodb.ProjectionType) -> dynamodb.Table:
        """resources.STATE_TABLE or resources.SESSIONS_TABLE (apart from the state table so that only
        FUNCTION_GRANTS[...].sessions holders can read a session: no LeadingKeys conditions to get wrong)."""
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
            removal_policy=cdk.RemovalPolicy.RETAIN,  # the sessions table holds the audit trail
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=dynamodb.Attribute(name=index.partition_key, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=index.sort_key, type=dynamodb.AttributeType.STRING),
                projection_type=index_projection,
            )
        return table

    def _name_key_users(self) -> None:
        """Key policies name who may use each key: the account root may administer them (no use), and only the
        roles FUNCTION_GRANTS gives crypto to may encrypt, decrypt or sign, even if another IAM policy says more."""
        uses = ((self.envelope_key, "envelope_crypto", ["kms:Decrypt", "kms:GenerateDataKey"], "NamedUsers"),
                (self.privy_key, "privy_sign", ["kms:Sign"], "NamedUsers"),
                (self.privy_key, "privy_public_key", ["kms:GetPublicKey"], "NamedPublicKeyReaders"))
        for key, grant, actions, sid in uses:
            roles = [fn.role for name, fn in sorted(self.functions.items())
                     if getattr(FUNCTION_GRANTS[name], grant) and fn.role is not None]
            key.add_to_resource_policy(iam.PolicyStatement(
                sid=sid, actions=actions, principals=roles, resources=["*"]))

    def _key_admin_policy(self) -> iam.PolicyDocument:
        """The account administers the key (so it can never be orphaned) but cannot use it through IAM alone."""
        return iam.PolicyDocument(statements=[iam.PolicyStatement(
            sid="AccountAdministersOnly", principals=[iam.AccountRootPrincipal()], resources=["*"],
            actions=["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                     "kms:Revoke*", "kms:Disable*", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:Delete*",
                     "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"])])

    def _keys(self) -> tuple[kms.Key, kms.Key]:
        envelope = kms.Key(
            self, "EnvelopeKey",
            alias=resources.ENVELOPE_KEY_ALIAS,
            description="dnbot: envelope encryption of agent-wallet keys (data keys, AES-256-GCM)",
            enable_key_rotation=True,
            policy=self._key_admin_policy(),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        privy = kms.Key(
            self, "PrivyAuthorizationKey",
            alias=resources.PRIVY_AUTHORIZATION_KEY_ALIAS,
            description="dnbot: Privy authorization signatures (ECDSA P-256); the private half never leaves KMS",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            policy=self._key_admin_policy(),
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
            resources.ENV_PRIVY_SECRET_ARN: self.privy_secret.secret_arn,
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
            environment[resources.ENV_ADMIN_EMAILS] = json.dumps(list(self.inputs.admin_emails))
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
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if spec.name in SNAPSTART_FUNCTIONS else None,
        )

    def invoke_target(self, name: str) -> lambda_.IFunction:
        """What callers invoke: the live alias of a SnapStart function, else the function."""
        return self.aliases.get(name) or self.functions[name]

    def _work_queues(self) -> dict[str, sqs.Queue]:
        """resources.QUEUES: each with its dead-letter queue, consumed by its function with partial batch
        failures (a failed message alone comes back, then lands in the DLQ after `max_receives` deliveries)."""
        queues: dict[str, sqs.Queue] = {}
        for spec in resources.QUEUES:
            queue = sqs.Queue(
                self, spec.logical_id,
                visibility_timeout=cdk.Duration.seconds(spec.visibility_timeout_seconds),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=spec.max_receives,
                                                      queue=self._dead_letter_queue(f"{spec.logical_id}Dlq")),
            )
            self.invoke_target(spec.consumer).add_event_source(lambda_event_sources.SqsEventSource(
                queue, batch_size=spec.batch_size, report_batch_item_failures=True))
            queues[spec.logical_id] = queue
        return queues

    def _wire_functions(self) -> None:
        self.work_queues = self._work_queues()
        for name, fn in self.functions.items():
            grants = FUNCTION_GRANTS[name]
            for granted, spec, env in ((grants.send_notifications, resources.NOTIFICATION_QUEUE,
                                        resources.ENV_NOTIFICATION_QUEUE_URL),
                                       (grants.send_user_queue, resources.USER_QUEUE, resources.ENV_USER_QUEUE_URL),
                                       (grants.send_reconcile_queue, resources.RECONCILE_QUEUE,
                                        resources.ENV_RECONCILE_QUEUE_URL)):
                if granted:
                    queue = self.work_queues[spec.logical_id]
                    queue.grant_send_messages(fn)
                    fn.add_environment(env, queue.queue_url)
            if grants.table:
                self.table.grant_read_write_data(fn)
            if grants.sessions:
                self.sessions_table.grant_read_write_data(fn)
                fn.add_environment(resources.ENV_SESSIONS_TABLE_NAME, self.sessions_table.table_name)
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
            if name in (HTTP_API_FUNCTION, WS_CONNECT_FUNCTION):  # both check CloudFront's origin header
                self.origin_secret.grant_read(fn)
                fn.add_environment(ENV_ORIGIN_VERIFY_SECRET_ARN, self.origin_secret.secret_arn)
            if name == HTTP_API_FUNCTION and self.inputs.email_sender:  # withdrawal codes by email through SES
                fn.add_environment("DNBOT_EMAIL_SENDER", self.inputs.email_sender)
                domain = self.inputs.email_sender.rsplit("@", 1)[-1]  # from that sender's identities only
                fn.add_to_role_policy(iam.PolicyStatement(actions=["ses:SendEmail"], resources=[
                    self.format_arn(service="ses", resource="identity", resource_name=identity)
                    for identity in (self.inputs.email_sender, domain)]))
            if grants.manage_websocket:
                self.websocket_stage.grant_management_api_access(fn)
            if grants.publish_alerts:
                topic = self._alerts_topic()
                topic.grant_publish(fn)
                fn.add_environment(resources.ENV_ALERTS_TOPIC_ARN, topic.topic_arn)
            # Only a machine's starters learn its ARN: the workflows invoke position_steps, so giving it their
            # ARNs would make a dependency cycle (and it has no use for them).
            for machine_name in sorted(grants.start_workflows):
                machine = self.state_machines[machine_name]
                machine.grant_start_execution(fn)
                if machine_name in READ_BACK_EXECUTIONS:
                    machine.grant_execution(fn, "states:DescribeExecution")
                fn.add_environment(STATE_MACHINE_ARN_ENV[machine_name], machine.state_machine_arn)

        self.stream_consumer_name = WS_BROADCAST_FUNCTION
        broadcast = self.functions[WS_BROADCAST_FUNCTION]
        broadcast.add_event_source(lambda_event_sources.DynamoEventSource(
            self.table,
            starting_position=lambda_.StartingPosition.LATEST,
            batch_size=100,
            max_batching_window=cdk.Duration.seconds(1),
            # Live updates are worthless when late: a few retries, then drop rather than block the shard.
            retry_attempts=STREAM_RETRY_ATTEMPTS,
            max_record_age=cdk.Duration.minutes(5),
            bisect_batch_on_error=True,
            # A batch that still fails leaves its shard/sequence range here (docs/operations.md: redrive).
            on_failure=lambda_event_sources.SqsDlq(self._dead_letter_queue("StreamDlq")),
        ))

    def _schedules(self) -> None:
        # EventBridge invokes asynchronously: its own retries cover delivery, Lambda's async retries cover a
        # failed run. Both end in one dead-letter queue, so a run that never happened is visible (and alarmed).
        schedule_dlq = self._dead_letter_queue("ScheduleDlq")
        for spec in resources.FUNCTIONS:
            if spec.schedule_minutes is None:
                continue
            fn = self.functions[spec.name]
            # A late run is superseded by the next one: retry within one period, never pile up behind it.
            max_age = cdk.Duration.minutes(max(spec.schedule_minutes, SCHEDULE_MIN_EVENT_AGE_MINUTES))
            fn.configure_async_invoke(retry_attempts=SCHEDULE_RETRY_ATTEMPTS, max_event_age=max_age,
                                      on_failure=lambda_destinations.SqsDestination(schedule_dlq))
            events.Rule(
                self, f"{_camel(spec.name)}Schedule",
                description=f"dnbot {spec.name} every {spec.schedule_minutes} min",
                schedule=events.Schedule.rate(cdk.Duration.minutes(spec.schedule_minutes)),
                targets=[events_targets.LambdaFunction(fn, retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
                                                       max_event_age=max_age, dead_letter_queue=schedule_dlq)],
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
                placeholder: self.invoke_target(function_name).function_arn
                for placeholder, function_name in spec.substitutions.items()
            },
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        for function_name in set(spec.substitutions.values()):
            self.invoke_target(function_name).grant_invoke(machine)
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
        api_fn = self.invoke_target(HTTP_API_FUNCTION)
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

    def _security_headers(self, construct_id: str, csp: str) -> cloudfront.ResponseHeadersPolicy:
        """HSTS, CSP with frame-ancestors, nosniff, referrer policy, frame options: on every path, the API's too."""
        return cloudfront.ResponseHeadersPolicy(
            self, construct_id,
            comment=f"dnbot security headers ({construct_id})",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=cdk.Duration.days(730), include_subdomains=True, override=True),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=csp, override=True),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True),
            ),
        )

    def _web_acl_arn(self) -> str:
        """The WAF web ACL on the distribution: a per-IP rate limit on everything and a stricter one on logins.

        A CloudFront web ACL must live in us-east-1. `-c webAclArn=<arn>` uses one made there (any stack region);
        otherwise the stack creates it, but only when it is deployed in us-east-1 (a CloudFormation condition:
        elsewhere the distribution goes without, docs/security.md says how to add one)."""
        if self.inputs.web_acl_arn:
            return self.inputs.web_acl_arn

        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True)

        def rate_rule(name: str, priority: int, limit: int, path_prefix: str | None) -> wafv2.CfnWebACL.RuleProperty:
            scope = None if path_prefix is None else wafv2.CfnWebACL.StatementProperty(
                byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                    field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                    positional_constraint="STARTS_WITH", search_string=path_prefix,
                    text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")]))
            return wafv2.CfnWebACL.RuleProperty(
                name=name, priority=priority, action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                visibility_config=visibility(name),
                statement=wafv2.CfnWebACL.StatementProperty(rate_based_statement=(
                    wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=limit, aggregate_key_type="IP", evaluation_window_sec=300,
                        scope_down_statement=scope))))

        in_us_east_1 = cdk.CfnCondition(self, "WafRegionIsUsEast1",
                                        expression=cdk.Fn.condition_equals(cdk.Aws.REGION, "us-east-1"))
        acl = wafv2.CfnWebACL(
            self, "EdgeWebAcl", scope="CLOUDFRONT", default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility("dnbot-edge"),
            rules=[rate_rule("RatePerIp", 0, WAF_REQUESTS_PER_IP_PER_5_MIN, None),
                   rate_rule("LoginRatePerIp", 1, WAF_LOGIN_REQUESTS_PER_IP_PER_5_MIN, "/api/v1/auth/")],
        )
        acl.cfn_options.condition = in_us_east_1
        self.web_acl = acl
        return cdk.Token.as_string(cdk.Fn.condition_if(in_us_east_1.logical_id, acl.attr_arn, cdk.Aws.NO_VALUE))

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
        # CloudFront sends this secret to both APIs; the API refuses a request without it (dnbot.api.edge), so
        # API Gateway's own endpoint gives a caller nothing that bypasses the WAF and the edge.
        origin_headers = {ORIGIN_VERIFY_HEADER: self.origin_secret.secret_value.unsafe_unwrap()}
        distribution = cloudfront.Distribution(
            self, "Dashboard",
            comment="dnbot dashboard and API (one origin, so the session cookie is first-party)",
            default_root_object="index.html",
            web_acl_id=self._web_acl_arn(),
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self._security_headers("DashboardHeaders", DASHBOARD_CSP),
            ),
            additional_behaviors={
                "/api/*": cloudfront.BehaviorOptions(
                    origin=origins.HttpOrigin(api_domain, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                                              custom_headers=origin_headers),
                    response_headers_policy=self._security_headers("ApiHeaders", API_CSP),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    # Cookies, query strings and headers reach the API; Host must be API Gateway's own.
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                ),
                # The WebSocket API on the same origin too: a browser sends the (host-only) session cookie with
                # the upgrade only to the dashboard's host, and ws_connections needs it to know the user.
                self.websocket_path: cloudfront.BehaviorOptions(
                    origin=origins.HttpOrigin(ws_domain, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                                              custom_headers=origin_headers),
                    response_headers_policy=self._security_headers("LiveHeaders", API_CSP),
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
        # What the dashboard should connect to (GET /api/v1/config's websocket_url); ENV_WEBSOCKET_ENDPOINT is
        # the https management endpoint the broadcaster posts to, which a browser cannot use.
        self.functions[HTTP_API_FUNCTION].add_environment(resources.ENV_WEBSOCKET_URL, self.websocket_url)
        return distribution

    # --- operations: dead letters, alerts, alarms, the operator's dashboard ------------------------------

    def _dead_letter_queue(self, construct_id: str) -> sqs.Queue:
        """One dead-letter queue per asynchronous path, created on first use (docs/operations.md: redrive)."""
        if construct_id not in self.dead_letter_queues:
            self.dead_letter_queues[construct_id] = sqs.Queue(
                self, construct_id,
                retention_period=DLQ_RETENTION,
                # SQS-managed keys: EventBridge and Lambda destinations can write to them without a KMS grant.
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
            )
        return self.dead_letter_queues[construct_id]

    def _alerts_topic(self) -> sns.Topic:
        """The operator's alerts topic (construct `AlertsTopic`), shared with the reconciler's drift alerts."""
        if getattr(self, "alerts_topic", None) is None:
            self.alerts_topic = sns.Topic(self, "AlertsTopic", display_name="dnbot alerts", enforce_ssl=True)
            for email in self.inputs.alert_emails:  # once: the topic is asked for by every part that alerts
                self.alerts_topic.add_subscription(sns_subscriptions.EmailSubscription(email))
        return self.alerts_topic

    def _operations(self) -> None:
        topic = self._alerts_topic()
        action = cloudwatch_actions.SnsAction(topic)
        five_minutes = cdk.Duration.minutes(5)
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        def alarm(construct_id: str, metric: cloudwatch.IMetric, threshold: float, description: str, *,
                  comparison: cloudwatch.ComparisonOperator =
                  cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                  evaluation_periods: int = 1,
                  missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING) -> None:
            created = cloudwatch.Alarm(
                self, construct_id, metric=metric, threshold=threshold, evaluation_periods=evaluation_periods,
                comparison_operator=comparison, treat_missing_data=missing,
                alarm_description=f"dnbot: {description} (docs/operations.md)",
            )
            created.add_alarm_action(action)
            self.alarms[construct_id] = created

        def custom(name: str, statistic: str = "Sum", period: cdk.Duration = five_minutes) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace=observability.NAMESPACE, metric_name=name,
                                     dimensions_map=observability.METRIC_DIMENSIONS, statistic=statistic,
                                     period=period)

        # Positions and money
        alarm("PositionNeedsAttentionAlarm", custom(observability.POSITION_NEEDS_ATTENTION, period=
              cdk.Duration.minutes(1)), 1, "a position needs attention: a leg may be unhedged")
        alarm("ReconcilerDriftAlarm", custom(observability.RECONCILER_DRIFT, period=cdk.Duration.minutes(1)), 1,
              "the reconciler found a venue disagreeing with the table")
        # Rates: no successful poll for the staleness limit means the stored rates are older than it.
        stale_minutes = max(1, Settings.model_fields["rates_stale_after_seconds"].default // 60)
        alarm("RatesStaleAlarm", custom(observability.RATES_POLLED, period=cdk.Duration.minutes(1)), 1,
              f"no rates snapshot for {stale_minutes} min: rates are stale, opens are refused",
              comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, evaluation_periods=stale_minutes,
              missing=cloudwatch.TreatMissingData.BREACHING)
        # Workflows
        for name, machine in self.state_machines.items():
            prefix = _camel(name)
            alarm(f"{prefix}FailedAlarm", machine.metric_failed(period=five_minutes, statistic="Sum"), 1,
                  f"{name} executions failed")
            alarm(f"{prefix}TimedOutAlarm", machine.metric_timed_out(period=five_minutes, statistic="Sum"), 1,
                  f"{name} executions timed out")
        # Functions
        for spec in resources.FUNCTIONS:
            fn, prefix = self.functions[spec.name], _camel(spec.name)
            alarm(f"{prefix}ErrorsAlarm", fn.metric_errors(period=five_minutes, statistic="Sum"), 1,
                  f"{spec.name} invocations failed")
            alarm(f"{prefix}ThrottlesAlarm", fn.metric_throttles(period=five_minutes, statistic="Sum"), 1,
                  f"{spec.name} invocations throttled")
            if spec.schedule_minutes is not None:
                limit_ms = spec.timeout_seconds * 1000 * TICK_DURATION_ALARM_FRACTION
                alarm(f"{prefix}DurationAlarm", fn.metric_duration(period=five_minutes, statistic="Maximum"),
                      limit_ms, f"{spec.name} ran over {TICK_DURATION_ALARM_FRACTION:.0%} of its "
                      f"{spec.timeout_seconds} s timeout")
        # Dead letters: any message at all means work that did not happen.
        for construct_id, queue in sorted(self.dead_letter_queues.items()):
            alarm(f"{construct_id}NotEmptyAlarm", queue.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(1), statistic="Maximum"), 1, f"dead-letter queue {construct_id} "
                "holds messages")
        # API 5xx rate, only once there is enough traffic for a rate to mean something.
        api_5xx = cloudwatch.MathExpression(
            expression=f"IF(requests >= {API_5XX_MIN_REQUESTS}, 100 * errors / requests, 0)",
            using_metrics={"errors": self.http_api.metric_server_error(period=five_minutes, statistic="Sum"),
                           "requests": self.http_api.metric_count(period=five_minutes, statistic="Sum")},
            label="API 5xx %", period=five_minutes,
        )
        alarm("Api5xxRateAlarm", api_5xx, API_5XX_ALARM_PERCENT,
              f"more than {API_5XX_ALARM_PERCENT}% of API requests failed with 5xx")
        self.operations_dashboard = self._operations_dashboard(custom, api_5xx)

    def _operations_dashboard(self, custom: Callable[..., cloudwatch.Metric],
                              api_5xx: cloudwatch.IMetric) -> cloudwatch.Dashboard:
        one_day = cdk.Duration.days(1)
        dashboard = cloudwatch.Dashboard(self, "OperationsDashboard", dashboard_name=f"{self.stack_name}-operations",
                                         default_interval=cdk.Duration.hours(6))
        dashboard.add_widgets(
            cloudwatch.SingleValueWidget(title="Positions open", width=6, metrics=[
                custom(observability.POSITIONS_OPEN, "Maximum", cdk.Duration.minutes(5))]),
            cloudwatch.SingleValueWidget(title="Capital deployed (USD)", width=6, metrics=[
                custom(observability.CAPITAL_DEPLOYED_USD, "Maximum", cdk.Duration.minutes(5))]),
            cloudwatch.SingleValueWidget(title="Funding earned today (USD, last 24 h)", width=6,
                                         metrics=[custom(observability.FUNDING_EARNED_USD, "Sum", one_day)]),
            cloudwatch.SingleValueWidget(title="Needs attention / drift (last 24 h)", width=6,
                                         metrics=[custom(observability.POSITION_NEEDS_ATTENTION, "Sum", one_day),
                                                  custom(observability.RECONCILER_DRIFT, "Sum", one_day)]),
        )
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(
            title="Alarms", width=24, alarms=list(self.alarms.values())))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Trading", width=12, left=[
                custom(observability.POSITIONS_OPENED), custom(observability.POSITIONS_CLOSED),
                custom(observability.TICK_USER_ERRORS)]),
            cloudwatch.GraphWidget(title="Rates polled (per minute)", width=12, left=[
                custom(observability.RATES_POLLED, period=cdk.Duration.minutes(1))]),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Workflow executions", width=12, left=[
                metric for machine in self.state_machines.values() for metric in (
                    machine.metric_succeeded(statistic="Sum"), machine.metric_failed(statistic="Sum"),
                    machine.metric_timed_out(statistic="Sum"))]),
            cloudwatch.GraphWidget(title="API 5xx %", width=12, left=[api_5xx]),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Lambda errors", width=8, left=[
                fn.metric_errors(statistic="Sum") for fn in self.functions.values()]),
            cloudwatch.GraphWidget(title="Lambda throttles", width=8, left=[
                fn.metric_throttles(statistic="Sum") for fn in self.functions.values()]),
            cloudwatch.GraphWidget(title="Scheduled run duration (max, ms)", width=8, left=[
                self.functions[spec.name].metric_duration(statistic="Maximum")
                for spec in resources.FUNCTIONS if spec.schedule_minutes is not None]),
        )
        dashboard.add_widgets(cloudwatch.GraphWidget(title="Dead-letter queues (messages)", width=24, left=[
            queue.metric_approximate_number_of_messages_visible(statistic="Maximum", label=construct_id)
            for construct_id, queue in sorted(self.dead_letter_queues.items())]))
        return dashboard

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

