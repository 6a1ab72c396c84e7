"""The CDK stack, synthesized once in-process (no Docker, no network), asserted resource by resource.

The expectations come from dnbot.resources and dnbot.workflows.definitions (what must exist) and from the
brief's least-privilege policy, stated here independently of infra/ (who may do what).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk
import build_layers  # infra/ is on sys.path (conftest)
import dnbot_stack
import pytest
from aws_cdk import assertions
from cdk_nag import AwsSolutionsChecks

from dnbot import resources
from dnbot.workflows import definitions
from tests.infra.conftest import REPO_ROOT, load_infra_app

# One worker runs them all, so the module-scoped synthesis happens once under `pytest -n 2 --dist loadgroup`.
pytestmark = pytest.mark.xdist_group("cdk_synth")

ADMIN_EMAIL = "ops@example.com"


@dataclass
class Synth:
    stack: dnbot_stack.DnbotStack
    template: assertions.Template
    raw: dict[str, Any]
    assembly_dir: Path
    nag_report: Any

    def logical_id(self, construct: Any) -> str:
        return str(self.stack.get_logical_id(construct.node.default_child))

    def resource(self, construct: Any) -> dict[str, Any]:
        return dict(self.raw["Resources"][self.logical_id(construct)])

    def of_type(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.raw["Resources"].items() if v["Type"] == cfn_type}

    def function(self, name: str) -> dict[str, Any]:
        return self.resource(self.stack.functions[name])

    def role_statements(self, name: str) -> list[dict[str, Any]]:
        role = self.stack.functions[name].role
        assert role is not None
        role_id = self.logical_id(role)
        statements: list[dict[str, Any]] = []
        for policy in self.of_type("AWS::IAM::Policy").values():
            if {"Ref": role_id} in policy["Properties"]["Roles"]:
                statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
        return statements

    def actions(self, name: str) -> set[str]:
        return {a for s in self.role_statements(name) if s["Effect"] == "Allow" for a in _as_list(s["Action"])}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def synth_inputs(root: Path) -> dict[str, str]:
    """The app's build inputs under `root` (the functions' code, the layers stamped as built, a frontend dist), as
    the context keys that point the app at them."""
    functions = root / "functions"
    for spec in resources.FUNCTIONS:
        shutil.copytree(REPO_ROOT / "functions" / spec.name, functions / spec.name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    layers = root / "layers"
    for layer in build_layers.LAYER_SOURCES:
        python = layers / layer.name / "python"
        python.mkdir(parents=True)
        (python / f"marker_{layer.name}.txt").write_text(layer.name)  # tells the two layer assets apart
        (layers / layer.name / build_layers.STAMP_NAME).write_text(build_layers.requirements_digest(layer.name))
    dist = root / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><title>dnbot</title>")
    return {"functionsDir": str(functions), "layersDir": str(layers), "frontendDist": str(dist)}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    root = tmp_path_factory.mktemp("cdk")
    infra_app = load_infra_app()
    app, stack = infra_app.build_app(outdir=str(root / "cdk.out"),
                                     context={**synth_inputs(root), "adminEmails": ADMIN_EMAIL})
    assembly = app.synth()  # raises if a cdk-nag finding is not acknowledged (validation plugin)
    raw = assembly.get_stack_by_name(stack.stack_name).template
    yield Synth(stack=stack, template=assertions.Template.from_json(raw), raw=raw,
                assembly_dir=Path(assembly.directory), nag_report=AwsSolutionsChecks().validate_scope(stack))


# --- data, keys, kill switch ---------------------------------------------------------------------------------

def test_state_table(synth: Synth) -> None:
    spec = resources.STATE_TABLE
    synth.template.resource_count_is("AWS::DynamoDB::Table", 2)  # the state table and the sessions table
    (index,) = spec.indexes
    synth.template.has_resource("AWS::DynamoDB::Table", {
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "KeySchema": [{"AttributeName": spec.partition_key, "KeyType": "HASH"},
                          {"AttributeName": spec.sort_key, "KeyType": "RANGE"}],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": spec.ttl_attribute, "Enabled": True},
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "DeletionProtectionEnabled": True,
            "GlobalSecondaryIndexes": [{
                "IndexName": index.name,
                "KeySchema": [{"AttributeName": index.partition_key, "KeyType": "HASH"},
                              {"AttributeName": index.sort_key, "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
        },
    })


def test_kms_keys_and_aliases(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::KMS::Key", 2)
    envelope = synth.resource(synth.stack.envelope_key)["Properties"]
    assert envelope["EnableKeyRotation"] is True
    assert envelope.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
    assert envelope.get("KeyUsage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT"
    privy = synth.resource(synth.stack.privy_key)["Properties"]
    assert (privy["KeySpec"], privy["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")

    aliases = {a["Properties"]["AliasName"]: a["Properties"]["TargetKeyId"]
               for a in synth.of_type("AWS::KMS::Alias").values()}
    assert aliases == {
        resources.ENVELOPE_KEY_ALIAS: {"Fn::GetAtt": [synth.logical_id(synth.stack.envelope_key), "Arn"]},
        resources.PRIVY_AUTHORIZATION_KEY_ALIAS: {"Fn::GetAtt": [synth.logical_id(synth.stack.privy_key), "Arn"]},
    }


def test_kill_switch_parameter(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::SSM::Parameter", 1)
    (param,) = synth.of_type("AWS::SSM::Parameter").values()
    props = param["Properties"]
    assert (props["Name"], props["Type"], props["Value"]) == (
        resources.KILL_SWITCH_PARAMETER, "String", resources.KILL_SWITCH_DEFAULT.value)
    pattern = re.compile(props["AllowedPattern"])
    assert all(pattern.fullmatch(v.value) for v in resources.KillSwitch)
    assert not any(pattern.fullmatch(bad) for bad in ("on", "OFF", "close-all ", "", "off|close-all"))


def test_privy_secret_is_retained_and_holds_the_documented_keys(synth: Synth) -> None:
    secret = synth.resource(synth.stack.privy_secret)
    assert secret["DeletionPolicy"] == "Retain"
    generated = secret["Properties"]["GenerateSecretString"]
    keys = {*json.loads(generated["SecretStringTemplate"]), generated["GenerateStringKey"]}
    assert keys == set(dnbot_stack.PRIVY_SECRET_KEYS)


# --- functions -------------------------------------------------------------------------------------------------

def test_one_lambda_per_function_spec(synth: Synth) -> None:
    ours = [f for f in synth.of_type("AWS::Lambda::Function").values()
            if f["Properties"].get("Handler") == "handler.handler"]
    assert len(ours) == len(resources.FUNCTIONS)
    for spec in resources.FUNCTIONS:
        props = synth.function(spec.name)["Properties"]
        assert props["Runtime"] == "python3.12"  # SnapStart needs 3.12 or later
        assert props["Architectures"] == [build_layers.LAMBDA_ARCHITECTURE]
        assert props["MemorySize"] == spec.memory_mb
        assert props["Timeout"] == spec.timeout_seconds
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert spec.name in props["Description"]


SNAPSTART = {"api", "position_steps"}  # the user-facing API and the trading steps (a half-open position waits)


def test_snapstart_on_the_api_and_the_trading_steps_through_published_versions(synth: Synth) -> None:
    aliases = synth.of_type("AWS::Lambda::Alias")
    versions = synth.of_type("AWS::Lambda::Version")
    for spec in resources.FUNCTIONS:
        props = synth.function(spec.name)["Properties"]
        function_id = synth.logical_id(synth.stack.functions[spec.name])
        if spec.name not in SNAPSTART:
            assert "SnapStart" not in props, spec.name
            continue
        assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        (alias,) = [a["Properties"] for a in aliases.values()
                    if a["Properties"]["FunctionName"] == {"Ref": function_id}]
        assert alias["Name"] == "live"
        version_id = alias["FunctionVersion"]["Fn::GetAtt"][0]
        assert versions[version_id]["Properties"]["FunctionName"] == {"Ref": function_id}
    # Every caller of a SnapStart function goes through its alias: no permission or integration names $LATEST.
    for permission in synth.of_type("AWS::Lambda::Permission").values():
        target = json.dumps(permission["Properties"]["FunctionName"])
        for name in SNAPSTART:
            assert f'["{synth.logical_id(synth.stack.functions[name])}", "Arn"]' not in target, permission


def test_architecture_matches_the_layer_wheels() -> None:
    assert build_layers.PIP_PLATFORM.endswith(
        {"x86_64": "_x86_64", "arm64": "_aarch64"}[build_layers.LAMBDA_ARCHITECTURE])


def _asset_dir(synth: Synth, code: dict[str, Any]) -> Path:
    key = code["S3Key"]
    return synth.assembly_dir / f"asset.{key.removesuffix('.zip')}"


def test_layers_match_each_function_spec(synth: Synth) -> None:
    used = {ref["Ref"] for spec in resources.FUNCTIONS for ref in synth.function(spec.name)["Properties"]["Layers"]}
    layer_dirs = {
        layer_id: _asset_dir(synth, layer["Properties"]["Content"])
        for layer_id, layer in synth.of_type("AWS::Lambda::LayerVersion").items() if layer_id in used
    }
    assert len(layer_dirs) == len(used) == 3  # the library and the two dependency sets
    library = [i for i, d in layer_dirs.items() if (d / "python" / "dnbot" / "resources.py").is_file()]
    assert len(library) == 1
    library_dir = layer_dirs[library[0]]
    assert not list(library_dir.rglob("*.egg-info")) and not list(library_dir.rglob("__pycache__"))

    for spec in resources.FUNCTIONS:
        refs = synth.function(spec.name)["Properties"]["Layers"]
        ids = [r["Ref"] for r in refs]
        assert len(ids) == 2 and library[0] in ids, spec.name
        (deps,) = [i for i in ids if i != library[0]]
        markers = [p.name for p in (layer_dirs[deps] / "python").glob("marker_*.txt")]
        assert markers == [f"marker_{spec.layer}.txt"], spec.name


def test_function_code_is_the_functions_directory(synth: Synth) -> None:
    for spec in resources.FUNCTIONS:
        code_dir = _asset_dir(synth, synth.function(spec.name)["Properties"]["Code"])
        assert (code_dir / "handler.py").is_file(), spec.name


def test_environment_wires_the_real_resources(synth: Synth) -> None:
    s = synth.stack
    for spec in resources.FUNCTIONS:
        env = synth.function(spec.name)["Properties"]["Environment"]["Variables"]
        assert env[resources.ENV_TABLE_NAME] == {"Ref": synth.logical_id(s.table)}
        assert env[resources.ENV_KILL_SWITCH_PARAMETER] == {"Ref": synth.logical_id(s.kill_switch)}
        assert env[resources.ENV_ENVELOPE_KEY_ID] == {"Fn::GetAtt": [synth.logical_id(s.envelope_key), "Arn"]}
        assert env[resources.ENV_PRIVY_AUTHORIZATION_KEY_ID] == {
            "Fn::GetAtt": [synth.logical_id(s.privy_key), "Arn"]}
        assert env[resources.ENV_PRIVY_SECRET_ARN] == {"Ref": synth.logical_id(s.privy_secret)}
        assert resources.ENV_WEBSOCKET_ENDPOINT in env
        assert env["POWERTOOLS_SERVICE_NAME"] == "dnbot"
        assert "POWERTOOLS_METRICS_NAMESPACE" in env
    for spec in resources.FUNCTIONS:  # a state machine's ARN only where it is started (STARTS)
        env = synth.function(spec.name)["Properties"]["Environment"]["Variables"]
        wired = {machine: env[variable] for machine, variable in MACHINE_ARN_ENV.items() if variable in env}
        assert wired == {machine: {"Ref": synth.logical_id(s.state_machines[machine])}
                         for machine in STARTS.get(spec.name, set())}, spec.name
    api_env = synth.function("api")["Properties"]["Environment"]["Variables"]
    assert json.loads(api_env[resources.ENV_ADMIN_EMAILS]) == [ADMIN_EMAIL]
    broadcast_env = synth.function("ws_broadcast")["Properties"]["Environment"]["Variables"]
    endpoint = json.dumps(broadcast_env[resources.ENV_WEBSOCKET_ENDPOINT])
    assert "https://" in endpoint and synth.logical_id(s.websocket_api) in endpoint


def test_schedules_follow_the_function_specs(synth: Synth) -> None:
    scheduled = [spec for spec in resources.FUNCTIONS if spec.schedule_minutes is not None]
    assert {spec.name for spec in scheduled} == {"rates_poller", "strategy_tick", "reconciler", "pnl_snapshots",
                                                 "deposit_sweep"}
    rules = list(synth.of_type("AWS::Events::Rule").values())
    assert len(rules) == len(scheduled)
    by_target = {
        rule["Properties"]["Targets"][0]["Arn"]["Fn::GetAtt"][0]: rule["Properties"]["ScheduleExpression"]
        for rule in rules
    }
    for spec in scheduled:
        assert spec.schedule_minutes is not None
        unit = "minute" if spec.schedule_minutes == 1 else "minutes"
        assert by_target[synth.logical_id(synth.stack.functions[spec.name])] == (
            f"rate({spec.schedule_minutes} {unit})")


def test_reconciler_runs_every_two_minutes_and_alerts_reach_the_topic(synth: Synth) -> None:
    topic = synth.stack.alerts_topic
    assert topic.node.id == "AlertsTopic"
    topic_id = synth.logical_id(topic)
    assert synth.raw["Resources"][topic_id]["Type"] == "AWS::SNS::Topic"
    reconciler = synth.logical_id(synth.stack.functions["reconciler"])
    rules = [r for r in synth.of_type("AWS::Events::Rule").values()
             if r["Properties"]["Targets"][0]["Arn"]["Fn::GetAtt"][0] == reconciler]
    assert [r["Properties"]["ScheduleExpression"] for r in rules] == ["rate(2 minutes)"]
    for name in ("position_steps", "reconciler"):
        env = synth.function(name)["Properties"]["Environment"]["Variables"]
        assert env[resources.ENV_ALERTS_TOPIC_ARN] == {"Ref": topic_id}
        publish = [st for st in synth.role_statements(name) if "sns:Publish" in _as_list(st["Action"])]
        assert publish and all(st["Resource"] == {"Ref": topic_id} for st in publish), publish
    assert resources.ENV_ALERTS_TOPIC_ARN not in synth.function("api")["Properties"]["Environment"]["Variables"]


# --- workflows -------------------------------------------------------------------------------------------------

def test_state_machines_are_the_shared_definitions_with_the_steps_arn(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::StepFunctions::StateMachine", len(resources.STATE_MACHINES))
    for spec in resources.STATE_MACHINES:
        props = synth.resource(synth.stack.state_machines[spec.name])["Properties"]
        assert props["StateMachineType"] == "STANDARD"
        assert props["TracingConfiguration"] == {"Enabled": True}
        assert props["LoggingConfiguration"]["Level"] == "ALL"
        assert props["LoggingConfiguration"]["IncludeExecutionData"] is True

        definition = props["DefinitionString"]
        assert json.loads(definition) == definitions.definition_for(spec.name)
        substitutions = props["DefinitionSubstitutions"]
        assert set(substitutions) == set(spec.substitutions)
        for placeholder, function_name in spec.substitutions.items():
            # the SnapStart version behind the live alias, never $LATEST
            arn = {"Ref": synth.stack.get_logical_id(synth.stack.aliases[function_name].node.default_child)}
            assert substitutions[placeholder] == arn
            # What CloudFormation's substitution yields equals what `dnbot local` renders.
            assert json.loads(definition.replace("${" + placeholder + "}", "ARN")) == json.loads(
                definitions.render(spec.name, {placeholder: "ARN"}))
        tasks = [s for s in json.loads(definition)["States"].values() if s["Type"] == "Task"]
        assert tasks and all(
            t["Parameters"]["FunctionName"] == "${" + definitions.STEP_FUNCTION_PLACEHOLDER + "}" for t in tasks)

        role_id = props["RoleArn"]["Fn::GetAtt"][0]
        invoke = [
            s for p in synth.of_type("AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"] if "lambda:InvokeFunction" in _as_list(s["Action"])
        ]
        steps_id = synth.stack.get_logical_id(synth.stack.aliases["position_steps"].node.default_child)
        assert invoke and all(json.dumps(r).count(steps_id) for s in invoke for r in _as_list(s["Resource"]))


# --- APIs ------------------------------------------------------------------------------------------------------

def test_http_api_routes_api_paths_to_the_api_lambda(synth: Synth) -> None:
    apis = {k: v for k, v in synth.of_type("AWS::ApiGatewayV2::Api").items()
            if v["Properties"]["ProtocolType"] == "HTTP"}
    assert len(apis) == 1
    (http_id,) = apis
    routes = [r["Properties"] for r in synth.of_type("AWS::ApiGatewayV2::Route").values()
              if r["Properties"]["ApiId"] == {"Ref": http_id}]
    assert [r["RouteKey"] for r in routes] == ["ANY /api/{proxy+}"]
    integration_id = routes[0]["Target"]["Fn::Join"][1][1]["Ref"]
    integration = synth.raw["Resources"][integration_id]["Properties"]
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["PayloadFormatVersion"] == "2.0"
    # the SnapStart version behind the live alias, never $LATEST
    assert integration["IntegrationUri"] == {
        "Ref": synth.stack.get_logical_id(synth.stack.aliases["api"].node.default_child)}
    stages = [s["Properties"] for s in synth.of_type("AWS::ApiGatewayV2::Stage").values()
              if s["Properties"]["ApiId"] == {"Ref": http_id}]
    assert len(stages) == 1 and stages[0]["StageName"] == "$default" and stages[0]["AutoDeploy"] is True
    assert "AccessLogSettings" in stages[0]


def test_websocket_api_connect_disconnect_and_broadcast(synth: Synth) -> None:
    ws_id = synth.logical_id(synth.stack.websocket_api)
    assert synth.raw["Resources"][ws_id]["Properties"]["ProtocolType"] == "WEBSOCKET"
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in synth.of_type("AWS::ApiGatewayV2::Route").values()
              if r["Properties"]["ApiId"] == {"Ref": ws_id}}
    assert set(routes) == {"$connect", "$disconnect"}
    connections_arn = json.dumps(synth.logical_id(synth.stack.functions["ws_connections"]))
    for route in routes.values():
        integration_id = route["Target"]["Fn::Join"][1][1]["Ref"]
        uri = json.dumps(synth.raw["Resources"][integration_id]["Properties"]["IntegrationUri"])
        assert connections_arn in uri

    assert "execute-api:ManageConnections" in synth.actions("ws_broadcast")
    (mapping,) = [m for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
                  if "StartingPosition" in m["Properties"]]  # the stream's (the others read queues)
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.table), "StreamArn"]}
    assert props["FunctionName"] == {"Ref": synth.logical_id(synth.stack.functions["ws_broadcast"])}
    assert props["StartingPosition"] == "LATEST"


# --- dashboard -------------------------------------------------------------------------------------------------

def test_dashboard_bucket_is_private_and_ssl_only(synth: Synth) -> None:
    bucket_id = synth.logical_id(synth.stack.dashboard_bucket)
    props = synth.raw["Resources"][bucket_id]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    (policy,) = [p for p in synth.of_type("AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements)


def test_cloudfront_serves_the_dashboard_and_forwards_api_to_the_http_api(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::CloudFront::Distribution", 1)
    synth.template.resource_count_is("AWS::CloudFront::OriginAccessControl", 1)
    config = synth.resource(synth.stack.distribution)["Properties"]["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    origins = {o["Id"]: o for o in config["Origins"]}
    assert len(origins) == 3  # the bucket, the HTTP API, the WebSocket API
    s3_origin = [o for o in origins.values() if "S3OriginConfig" in o]
    assert len(s3_origin) == 1 and "OriginAccessControlId" in s3_origin[0]
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == s3_origin[0]["Id"]
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviors) == {"/api/*", synth.stack.websocket_path}
    api_behavior = behaviors["/api/*"]
    api_origin = origins[api_behavior["TargetOriginId"]]
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    http_api_id = synth.logical_id(synth.stack.http_api)
    assert http_api_id in json.dumps(api_origin["DomainName"])
    assert set(api_behavior["AllowedMethods"]) >= {"GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"}
    # Cookies must reach the API: the origin request policy forwards everything but Host.
    assert "OriginRequestPolicyId" in api_behavior and "CachePolicyId" in api_behavior
    assert not config.get("CustomErrorResponses"), "SPA fallbacks would turn API 404s into index.html"

    # The WebSocket upgrade goes through the same host, so the browser sends the session cookie with it.
    ws_behavior = behaviors[synth.stack.websocket_path]
    assert synth.stack.websocket_path == f"/{synth.stack.websocket_stage.stage_name}"
    ws_origin = origins[ws_behavior["TargetOriginId"]]
    assert synth.logical_id(synth.stack.websocket_api) in json.dumps(ws_origin["DomainName"])
    assert ws_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert ws_behavior["OriginRequestPolicyId"] == api_behavior["OriginRequestPolicyId"]


def test_dashboard_deployment_copies_the_build_and_invalidates(synth: Synth) -> None:
    (deployment,) = synth.of_type("Custom::CDKBucketDeployment").values()
    props = deployment["Properties"]
    assert props["DestinationBucketName"] == {"Ref": synth.logical_id(synth.stack.dashboard_bucket)}
    assert props["DistributionPaths"] == ["/*"]
    (source_key,) = props["SourceObjectKeys"]
    assert (_asset_dir(synth, {"S3Key": source_key}) / "index.html").is_file()


def test_outputs(synth: Synth) -> None:
    outputs = synth.raw["Outputs"]
    for name in ("DashboardUrl", "ApiUrl", "WebSocketUrl", "TableName", "KillSwitchParameterName"):
        assert name in outputs, name
    assert outputs["TableName"]["Value"] == {"Ref": synth.logical_id(synth.stack.table)}
    assert outputs["KillSwitchParameterName"]["Value"] == {"Ref": synth.logical_id(synth.stack.kill_switch)}
    assert "/api/v1" in json.dumps(outputs["ApiUrl"]["Value"])
    ws_url = json.dumps(outputs["WebSocketUrl"]["Value"])
    assert "wss://" in ws_url and synth.logical_id(synth.stack.distribution) in ws_url
    assert synth.stack.websocket_path in ws_url
    api_env = synth.function("api")["Properties"]["Environment"]["Variables"]
    assert api_env[resources.ENV_WEBSOCKET_URL] == outputs["WebSocketUrl"]["Value"]


def test_the_tick_fans_out_through_a_queue_with_a_dead_letter_queue(synth: Synth) -> None:
    """The tick enqueues; the worker consumes with partial batch failures; a poison message ends in the DLQ."""
    spec = resources.USER_QUEUE
    queue = synth.resource(synth.stack.work_queues[spec.logical_id])
    assert queue["Type"] == "AWS::SQS::Queue"
    props = queue["Properties"]
    assert props["VisibilityTimeout"] == spec.visibility_timeout_seconds
    assert props["VisibilityTimeout"] >= 6 * resources.function(spec.consumer).timeout_seconds
    assert props["SqsManagedSseEnabled"] is True
    redrive = props["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == spec.max_receives
    dlq_id = synth.logical_id(synth.stack.dead_letter_queues[f"{spec.logical_id}Dlq"])
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    mappings = [m["Properties"] for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
                if m["Properties"].get("EventSourceArn") == {"Fn::GetAtt": [synth.logical_id(
                    synth.stack.work_queues[spec.logical_id]), "Arn"]}]
    assert len(mappings) == 1
    assert mappings[0]["BatchSize"] == spec.batch_size
    assert mappings[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert synth.logical_id(synth.stack.functions[spec.consumer]) in json.dumps(mappings[0]["FunctionName"])
    arn = {"Fn::GetAtt": [synth.logical_id(synth.stack.work_queues[spec.logical_id]), "Arn"]}
    senders = {f.name for f in resources.FUNCTIONS if any(
        "sqs:SendMessage" in _as_list(st["Action"]) and arn in _as_list(st["Resource"])
        for st in synth.role_statements(f.name))}
    # position_steps: the close a failed in-place rebalance asks the workers for
    assert senders == {"strategy_tick", "strategy_worker", "position_steps"}
    url = {"Ref": synth.logical_id(synth.stack.work_queues[spec.logical_id])}
    for name in ("strategy_tick", "strategy_worker", "position_steps"):
        assert synth.function(name)["Properties"]["Environment"]["Variables"][resources.ENV_USER_QUEUE_URL] == url


def test_the_reconciler_fans_out_through_its_own_queue_which_it_consumes(synth: Synth) -> None:
    """The scheduled reconciler enqueues the users; the same function consumes the queue (one user a message,
    partial batch failures); a failed message goes to the DLQ at once (the next round is the retry), which alarms;
    nothing else may send to the queue."""
    spec = resources.RECONCILE_QUEUE
    assert spec.consumer == "reconciler"
    queue_id = synth.logical_id(synth.stack.work_queues[spec.logical_id])
    props = synth.raw["Resources"][queue_id]["Properties"]
    assert props["VisibilityTimeout"] >= 6 * resources.function("reconciler").timeout_seconds
    assert props["SqsManagedSseEnabled"] is True
    dlq = synth.stack.dead_letter_queues[f"{spec.logical_id}Dlq"]
    assert props["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [synth.logical_id(dlq), "Arn"]},
                                      "maxReceiveCount": 1}
    (mapping,) = [m["Properties"] for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
                  if m["Properties"].get("EventSourceArn") == {"Fn::GetAtt": [queue_id, "Arn"]}]
    assert synth.logical_id(synth.stack.functions["reconciler"]) in json.dumps(mapping["FunctionName"])
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == spec.batch_size
    arn = {"Fn::GetAtt": [queue_id, "Arn"]}
    senders = {f.name for f in resources.FUNCTIONS if any(
        "sqs:SendMessage" in _as_list(st["Action"]) and arn in _as_list(st["Resource"])
        for st in synth.role_statements(f.name))}
    assert senders == {"reconciler"}
    consumers = {f.name for f in resources.FUNCTIONS if any(
        "sqs:ReceiveMessage" in _as_list(st["Action"]) and arn in _as_list(st["Resource"])
        for st in synth.role_statements(f.name))}
    assert consumers == {"reconciler"}
    env = synth.function("reconciler")["Properties"]["Environment"]["Variables"]
    assert env[resources.ENV_RECONCILE_QUEUE_URL] == {"Ref": queue_id}
    assert all(resources.ENV_RECONCILE_QUEUE_URL not in synth.function(f.name)["Properties"].get(
        "Environment", {}).get("Variables", {}) for f in resources.FUNCTIONS if f.name != "reconciler")
    alarms = [a["Properties"] for a in synth.of_type("AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
              and {"Name": "QueueName", "Value": {"Fn::GetAtt": [synth.logical_id(dlq), "QueueName"]}}
              in a["Properties"].get("Dimensions", [])]
    assert len(alarms) == 1 and alarms[0]["Threshold"] == 1


# --- least privilege -------------------------------------------------------------------------------------------

# Who starts which workflow, read off the code paths: the API starts a user's open and close (routes/positions ->
# services/positions) and a confirmed withdrawal (routes/withdrawals -> services/withdrawals); the strategy worker
# starts opens and closes (services/tick -> services/positions) and rebalances (services/tick -> the runtime's
# workflows). Nothing else starts one: the state machines invoke position_steps.
STARTS: dict[str, set[str]] = {
    "api": {"open_position", "close_position", "withdraw"},
    "strategy_worker": {"open_position", "close_position", "rebalance_position"},
}
MACHINE_ARN_ENV = {  # settings.py reads each machine's ARN from
    "open_position": resources.ENV_OPEN_STATE_MACHINE_ARN,
    "close_position": resources.ENV_CLOSE_STATE_MACHINE_ARN,
    "rebalance_position": resources.ENV_REBALANCE_STATE_MACHINE_ARN,
    "withdraw": resources.ENV_WITHDRAW_STATE_MACHINE_ARN,
}


def _resources_of(synth: Synth, name: str, action: str) -> list[Any]:
    return [resource for statement in synth.role_statements(name) if statement["Effect"] == "Allow"
            and action in _as_list(statement["Action"]) for resource in _as_list(statement["Resource"])]


def test_each_function_may_start_exactly_the_workflows_it_starts(synth: Synth) -> None:
    assert set(MACHINE_ARN_ENV) == {spec.name for spec in resources.STATE_MACHINES}
    for spec in resources.FUNCTIONS:
        started = _resources_of(synth, spec.name, "states:StartExecution")
        expected = [{"Ref": synth.logical_id(synth.stack.state_machines[machine])}
                    for machine in STARTS.get(spec.name, set())]
        assert sorted(map(json.dumps, started)) == sorted(map(json.dumps, expected)), spec.name


def test_a_starter_may_read_back_only_the_executions_of_the_workflows_it_starts(synth: Synth) -> None:
    # adapters/aws/stepfunctions.py: a start refused as ExecutionAlreadyExists describes that execution (the close
    # already running is this close); the withdrawal starter never reads one back.
    for spec in resources.FUNCTIONS:
        described = [json.dumps(r) for r in _resources_of(synth, spec.name, "states:DescribeExecution")]
        expected = STARTS.get(spec.name, set()) - {"withdraw"}
        assert len(described) == len(expected), spec.name
        for machine in expected:
            name_of = json.dumps({"Fn::Select": [6, {"Fn::Split": [":", {
                "Ref": synth.logical_id(synth.stack.state_machines[machine])}]}]})
            assert [r for r in described if '":execution:", ' + name_of + ', ":*"' in r], (spec.name, machine)


def test_the_pnl_snapshots_read_funding_with_no_privy_secret_or_key(synth: Synth) -> None:
    # Hyperliquid's funding and fills are public per address (runtime.short_funding): the hourly snapshots need
    # neither the Privy app credentials nor the Privy authorization key.
    privy_secret = {"Ref": synth.logical_id(synth.stack.privy_secret)}
    privy_key = {"Fn::GetAtt": [synth.logical_id(synth.stack.privy_key), "Arn"]}
    statements = synth.role_statements("pnl_snapshots")
    assert not [s for s in statements if _reaches(s, privy_secret) or _reaches(s, privy_key)]
    assert not {a for a in synth.actions("pnl_snapshots") if a.startswith(("secretsmanager:", "kms:"))}
    secret_readers = {spec.name for spec in resources.FUNCTIONS
                      if any(_reaches(s, privy_secret) for s in synth.role_statements(spec.name))}
    assert secret_readers == {"api", "position_steps", "reconciler", "deposit_sweep"}


def test_a_grant_to_start_an_unknown_state_machine_fails_synthesis(tmp_path: Path, synth: Synth,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = dnbot_stack.Grants(start_workflows=frozenset({"open_position", "opne_position"}))
    monkeypatch.setitem(dnbot_stack.FUNCTION_GRANTS, "strategy_worker", wrong)
    with pytest.raises(ValueError, match=r"'strategy_worker' starts unknown state machines \['opne_position'\]"):
        _inputs(tmp_path, synth).validate()


def _holders(synth: Synth, action: str) -> set[str]:
    return {spec.name for spec in resources.FUNCTIONS if action in synth.actions(spec.name)}


@pytest.mark.parametrize(("action", "allowed"), [
    # the strategy worker only starts the rebalance workflow; position_steps signs the rebalance
    ("kms:Decrypt", {"position_steps", "reconciler"}),
    ("kms:GenerateDataKey", {"position_steps", "reconciler"}),
    ("kms:Sign", {"position_steps", "reconciler", "deposit_sweep"}),  # the sweep signs bridge transfers
    ("ssm:GetParameter", {"api", "strategy_tick", "position_steps"}),
    ("ssm:PutParameter", {"api"}),
    ("states:StartExecution", {"api", "strategy_worker"}),
    ("sqs:ReceiveMessage", {"strategy_worker", "notifier", "reconciler"}),  # the reconciler: its own queue
    ("execute-api:ManageConnections", {"ws_broadcast"}),
    ("secretsmanager:GetSecretValue", {"api", "position_steps", "reconciler", "deposit_sweep",
                                        "ws_connections"}),  # ws_connections: the origin-verify secret only
    ("sns:Publish", {"position_steps", "reconciler"}),
])
def test_least_privilege(synth: Synth, action: str, allowed: set[str]) -> None:
    assert _holders(synth, action) == allowed


def test_no_broad_grants(synth: Synth) -> None:
    for spec in resources.FUNCTIONS:
        actions = synth.actions(spec.name)
        assert not any(a == "*" or a.endswith(":*") for a in actions), (spec.name, actions)
        for statement in synth.role_statements(spec.name):
            if statement["Resource"] == "*":  # only actions that have no resource-level permissions
                assert set(_as_list(statement["Action"])) <= {
                    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"}, statement
        role = synth.resource(synth.stack.functions[spec.name].role)
        assert not role["Properties"].get("ManagedPolicyArns"), spec.name
    # KMS grants name the key they are for, and no other.
    for statement in synth.role_statements("position_steps"):
        actions = set(_as_list(statement["Action"]))
        if actions & {"kms:Decrypt", "kms:GenerateDataKey"}:
            assert statement["Resource"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.envelope_key), "Arn"]}
        if "kms:Sign" in actions:
            assert statement["Resource"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.privy_key), "Arn"]}


# --- cdk-nag ---------------------------------------------------------------------------------------------------

def test_cdk_nag_aws_solutions_has_no_open_findings(synth: Synth) -> None:
    findings = [f"{v.rule_name} at {r.construct_path}" for v in synth.nag_report.violations
                for r in v.violating_resources]
    assert findings == []
    assert synth.nag_report.success


@pytest.mark.parametrize("env", [
    aws_cdk.Environment(region="us-east-1"),  # what the CDK CLI passes without credentials
    aws_cdk.Environment(account="123456789012", region="eu-west-1"),  # and with them
], ids=["region", "account-and-region"])
def test_cdk_nag_is_clean_when_the_environment_is_known(synth: Synth, env: aws_cdk.Environment) -> None:
    # Findings spell partition/region/account literally once they are known, so acknowledgements must too.
    app = aws_cdk.App(context=load_infra_app().cdk_json_context())
    stack = dnbot_stack.DnbotStack(app, "DnbotEnv", inputs=synth.stack.inputs, env=env)
    report = AwsSolutionsChecks().validate_scope(stack)
    assert [f"{v.rule_name} at {r.construct_path}" for v in report.violations for r in v.violating_resources] == []


def test_cdk_nag_would_catch_an_unacknowledged_finding() -> None:
    # The check above can fail: the same pack on a plain bucket reports it.
    app = aws_cdk.App()
    stack = aws_cdk.Stack(app, "Probe")
    aws_cdk.aws_s3.Bucket(stack, "Bucket")
    report = AwsSolutionsChecks().validate_scope(stack)
    assert not report.success
    assert "AwsSolutions-S1" in {v.rule_name for v in report.violations}


def test_every_acknowledgement_has_a_reason(synth: Synth) -> None:
    acknowledged = {
        rule: reason
        for construct in synth.stack.node.find_all() for entry in construct.node.metadata
        if entry.type == "aws:cdk:acknowledged-rules"
        for rule, reason in dict(entry.data).items()
    }
    assert any("AwsSolutions-L1" in rule for rule in acknowledged)
    for rule, reason in acknowledged.items():
        assert len(reason) > 40, rule


# --- inputs ----------------------------------------------------------------------------------------------------

def _inputs(tmp_path: Path, synth: Synth) -> dnbot_stack.DnbotStackInputs:
    base = synth.stack.inputs
    return dnbot_stack.DnbotStackInputs(functions_root=base.functions_root, layers_root=base.layers_root,
                                        frontend_dist=base.frontend_dist)


def test_missing_frontend_says_make_frontend(tmp_path: Path, synth: Synth) -> None:
    inputs = _inputs(tmp_path, synth)
    broken = dnbot_stack.DnbotStackInputs(functions_root=inputs.functions_root, layers_root=inputs.layers_root,
                                          frontend_dist=tmp_path / "no-dist")
    with pytest.raises(ValueError, match="make frontend"):
        broken.validate()


def test_missing_or_stale_layers_say_make_layers(tmp_path: Path, synth: Synth) -> None:
    inputs = _inputs(tmp_path, synth)
    missing = dnbot_stack.DnbotStackInputs(functions_root=inputs.functions_root, layers_root=tmp_path / "none",
                                           frontend_dist=inputs.frontend_dist)
    with pytest.raises(ValueError, match="make layers"):
        missing.validate()
    stale_root = tmp_path / "stale"
    shutil.copytree(inputs.layers_root, stale_root)
    (stale_root / "trading" / build_layers.STAMP_NAME).write_text("built-from-something-else")
    stale = dnbot_stack.DnbotStackInputs(functions_root=inputs.functions_root, layers_root=stale_root,
                                         frontend_dist=inputs.frontend_dist)
    with pytest.raises(ValueError, match=r"'trading'.*make layers"):
        stale.validate()
    inputs.validate()  # and the good inputs pass


def test_missing_function_code_is_named(tmp_path: Path, synth: Synth) -> None:
    inputs = _inputs(tmp_path, synth)
    empty = tmp_path / "functions"
    empty.mkdir()
    broken = dnbot_stack.DnbotStackInputs(functions_root=empty, layers_root=inputs.layers_root,
                                          frontend_dist=inputs.frontend_dist)
    with pytest.raises(ValueError, match=r"functions/api/handler\.py"):
        broken.validate()


def test_every_function_has_decided_grants() -> None:
    assert set(dnbot_stack.FUNCTION_GRANTS) == {spec.name for spec in resources.FUNCTIONS}


def test_app_names_the_make_targets(tmp_path: Path) -> None:
    # What `make synth` prints on a fresh clone before `make layers` / `make frontend`. A subprocess, because
    # the CDK reads CDK_CONTEXT_JSON and CDK_OUTDIR in its node process, which starts with the interpreter.
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path / "out"), "CDK_CONTEXT_JSON": json.dumps({
        "layersDir": str(tmp_path / "no-layers"), "frontendDist": str(tmp_path / "no-dist")})}
    result = subprocess.run([sys.executable, str(REPO_ROOT / "infra" / "app.py")], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: cannot synthesize the dnbot stack"), result.stderr
    assert "run `make layers`" in result.stderr and "run `make frontend`" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "out").glob("*.template.json"))


# --- issue 11: sessions, keys, WAF, origin check, security headers ----------------------------------------

SESSION_READERS = {"api", "ws_connections"}
# The functions that move money: the workflow steps, the reconciler's repairs, the deposit sweep (when present).
TRADING = {"position_steps", "reconciler", "deposit_sweep"}


def _table_arn(synth: Synth, table: Any) -> dict[str, Any]:
    return {"Fn::GetAtt": [synth.logical_id(table), "Arn"]}


def _reaches(statement: dict[str, Any], arn: dict[str, Any]) -> bool:
    return any(r == arn or (isinstance(r, dict) and json.dumps(arn) in json.dumps(r))
               for r in _as_list(statement["Resource"]))


def test_only_the_api_and_websocket_connect_can_touch_sessions(synth: Synth) -> None:
    arn = _table_arn(synth, synth.stack.sessions_table)
    holders = {spec.name for spec in resources.FUNCTIONS
               if any(_reaches(s, arn) for s in synth.role_statements(spec.name))}
    assert holders == SESSION_READERS
    for name in ("rates_poller", "strategy_tick", "position_steps", "ws_broadcast", "reconciler"):
        env = synth.function(name)["Properties"]["Environment"]["Variables"]
        assert resources.ENV_SESSIONS_TABLE_NAME not in env, name
    env = synth.function("api")["Properties"]["Environment"]["Variables"]
    assert env[resources.ENV_SESSIONS_TABLE_NAME] == {"Ref": synth.logical_id(synth.stack.sessions_table)}


def test_no_function_has_wildcard_actions_or_dynamodb_star(synth: Synth) -> None:
    for spec in resources.FUNCTIONS:
        actions = synth.actions(spec.name)
        assert "*" not in actions and "dynamodb:*" not in actions and "kms:*" not in actions, spec.name
        assert not any(a.endswith(":*") for a in actions), (spec.name, actions)


def _key_policy(synth: Synth, key: Any) -> list[dict[str, Any]]:
    return list(synth.resource(key)["Properties"]["KeyPolicy"]["Statement"])


def _principal_roles(statement: dict[str, Any]) -> set[str]:
    return {p["Fn::GetAtt"][0] for p in _as_list(statement["Principal"].get("AWS", [])) if isinstance(p, dict)
            and "Fn::GetAtt" in p}


@pytest.mark.parametrize(("key_name", "actions"), [
    ("envelope_key", {"kms:Decrypt", "kms:GenerateDataKey"}),
    ("privy_key", {"kms:Sign"}),
])
def test_key_policies_name_their_users(synth: Synth, key_name: str, actions: set[str]) -> None:
    key = getattr(synth.stack, key_name)
    statements = _key_policy(synth, key)
    users = {role for s in statements if set(_as_list(s["Action"])) & actions for role in _principal_roles(s)}
    holders = {spec.name for spec in resources.FUNCTIONS if synth.actions(spec.name) & actions}
    assert "position_steps" in holders and holders <= TRADING
    assert users == {synth.logical_id(synth.stack.functions[name].role) for name in holders}
    for statement in statements:  # the account may administer the key, never use it through IAM alone
        if "AWS" in statement["Principal"] and not _principal_roles(statement):
            granted = set(_as_list(statement["Action"]))
            assert "kms:*" not in granted and not granted & {"kms:Decrypt", "kms:Sign", "kms:Encrypt",
                                                             "kms:GenerateDataKey"}, statement


def test_only_trading_functions_hold_decrypt_or_sign(synth: Synth) -> None:
    for action in ("kms:Decrypt", "kms:Sign", "kms:GenerateDataKey"):
        holders = {s.name for s in resources.FUNCTIONS if action in synth.actions(s.name)}
        assert "position_steps" in holders and holders <= TRADING, (action, holders)


def test_waf_rate_limits_on_the_distribution_only_in_us_east_1(synth: Synth) -> None:
    (acl_id, acl), = synth.of_type("AWS::WAFv2::WebACL").items()
    assert acl["Properties"]["Scope"] == "CLOUDFRONT"
    condition = synth.raw["Conditions"][acl["Condition"]]
    assert "us-east-1" in json.dumps(condition)
    rules = {r["Name"]: r["Statement"]["RateBasedStatement"] for r in acl["Properties"]["Rules"]}
    assert rules["RatePerIp"]["AggregateKeyType"] == "IP" and rules["RatePerIp"]["Limit"] <= 2000
    assert "/api/v1/auth/" in json.dumps(rules["LoginRatePerIp"]["ScopeDownStatement"])
    web_acl = synth.resource(synth.stack.distribution)["Properties"]["DistributionConfig"]["WebACLId"]
    assert json.dumps({"Fn::GetAtt": [acl_id, "Arn"]}) in json.dumps(web_acl)


def test_cloudfront_sends_the_origin_secret_and_the_api_checks_it(synth: Synth) -> None:
    config = synth.resource(synth.stack.distribution)["Properties"]["DistributionConfig"]
    api_origins = [o for o in config["Origins"] if "CustomOriginConfig" in o]
    assert len(api_origins) == 2
    for origin in api_origins:
        headers = {h["HeaderName"]: h["HeaderValue"] for h in origin["OriginCustomHeaders"]}
        assert synth.logical_id(synth.stack.origin_secret) in json.dumps(headers["X-Origin-Verify"])
    env = synth.function("api")["Properties"]["Environment"]["Variables"]
    assert env["DNBOT_ORIGIN_VERIFY_SECRET_ARN"] == {"Ref": synth.logical_id(synth.stack.origin_secret)}
    assert "DNBOT_API_DOCS" not in env  # /api/docs stays off in AWS unless the operator sets it


def test_security_headers_on_dashboard_api_and_live(synth: Synth) -> None:
    config = synth.resource(synth.stack.distribution)["Properties"]["DistributionConfig"]
    behaviors = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    assert {b.get("PathPattern", "default") for b in behaviors} >= {"default", "/api/*", "/live"}
    policies = synth.of_type("AWS::CloudFront::ResponseHeadersPolicy")
    for behavior in behaviors:
        policy_id = behavior["ResponseHeadersPolicyId"]["Ref"]
        headers = policies[policy_id]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
        assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
        assert "frame-ancestors 'none'" in headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]
        assert headers["ContentTypeOptions"]["Override"] is True
        assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "strict-origin-when-cross-origin"
        assert headers["FrameOptions"]["FrameOption"] == "DENY"
