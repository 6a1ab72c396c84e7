"""`dnbot ops --stack NAME` against a deployed stack (moto's CloudFormation): resources found by logical id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from dnbot import cli, resources

pytestmark = pytest.mark.xdist_group("moto")

REGION = "eu-west-1"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
TEMPLATE = {
    "Resources": {
        "StateTable9728C7E5": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"}
                                     for n in ("pk", "sk", "gsi1pk", "gsi1sk")],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "GlobalSecondaryIndexes": [{"IndexName": "gsi1", "Projection": {"ProjectionType": "ALL"},
                                        "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"},
                                                      {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]}]}},
        "KillSwitch": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": resources.KILL_SWITCH_PARAMETER, "Type": "String", "Value": "off"}},
        "ScheduleDlqBC80447A": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "StreamDlqF539A7E2": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "UserQueue315821F7": {"Type": "AWS::SQS::Queue", "Properties": {}},  # a work queue: not a DLQ
        "OpenPosition6382F1B8": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "DefinitionString": DEFINITION, "RoleArn": "arn:aws:iam::123456789012:role/states"}},
    },
}


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    from moto.core.config import default_user_config

    # `dnbot local` (started by other modules in this worker) turns moto's ASL executor on process-wide
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": False})
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(StackName="Dnbot", TemplateBody=json.dumps(TEMPLATE))
        found = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                 for r in cfn.describe_stack_resources(StackName="Dnbot")["StackResources"]}
        yield found


def _ops(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["ops", "--stack", "Dnbot", "--region", REGION, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_status_of_a_deployed_stack(stack: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = stack["StateTable9728C7E5"]
    for i, status in enumerate(["open", "open", "needs_attention", "closed"]):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"USER#u{i}"}, "sk": {"S": f"POSITION#p{i}"},
                                                 "gsi1pk": {"S": f"STATUS#{status}"}, "gsi1sk": {"S": f"u{i}#p{i}"}})
    at = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "RATES"}, "sk": {"S": "LATEST"}, "at": {"S": at}})
    boto3.client("sqs", region_name=REGION).send_message(QueueUrl=stack["StreamDlqF539A7E2"], MessageBody="{}")
    sfn = boto3.client("stepfunctions", region_name=REGION)
    execution = sfn.start_execution(stateMachineArn=stack["OpenPosition6382F1B8"], name="open-p9")
    sfn.stop_execution(executionArn=execution["executionArn"], error="States.Timeout")

    code, out, err = _ops(capsys, "--json", "status")
    assert (code, err) == (0, "")
    status = json.loads(out)
    assert status["kill_switch"] == "off"
    assert status["positions"] == {"pending": 0, "open": 2, "closing": 0, "needs_attention": 1, "closed": 1,
                                   "failed": 0}
    assert status["failed_executions"] == {"OpenPosition6382F1B8": 1}
    assert status["dead_letter_queues"] == {"ScheduleDlqBC80447A": 0, "StreamDlqF539A7E2": 1}
    assert 590 <= status["rates_age_seconds"] <= 660
    assert status["problems"] == [
        "1 position(s) need attention", "OpenPosition6382F1B8: 1 failed execution(s) in 24 h",
        "dead-letter queue StreamDlqF539A7E2 holds 1 message(s)", f"rates are {status['rates_age_seconds']} s old "
        "(> 300 s: opens are refused)"]


def test_kill_switch_on_a_deployed_stack(stack: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _ops(capsys, "kill-switch", "close-all")[:2] == (0, "kill switch is now close-all\n")
    ssm = boto3.client("ssm", region_name=REGION)
    assert ssm.get_parameter(Name=resources.KILL_SWITCH_PARAMETER)["Parameter"]["Value"] == "close-all"
    assert "kill switch        close-all" in _ops(capsys, "status")[1]


def test_an_unknown_stack_is_one_line_exit_2(stack: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["ops", "--stack", "Nope", "--region", REGION, "status"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("dnbot ops: error: stack 'Nope'") and len(err.strip().splitlines()) == 1
