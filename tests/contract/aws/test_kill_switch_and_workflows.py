"""The SSM kill switch fails safe; Step Functions starts are idempotent by position (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from dnbot.adapters.aws.ssm import SsmKillSwitch
from dnbot.adapters.aws.stepfunctions import StepFunctionsWorkflows
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.positions import Position, PositionStatus
from dnbot.resources import KILL_SWITCH_PARAMETER
from dnbot.workflows.definitions import render


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def test_kill_switch_reads_writes_and_fails_safe(aws: None) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    switch = SsmKillSwitch(ssm, KILL_SWITCH_PARAMETER, cache_seconds=0)
    assert switch.kill_switch() is KillSwitch.NO_NEW_POSITIONS  # missing parameter: nothing new opens
    switch.set_kill_switch(KillSwitch.OFF)
    assert switch.kill_switch() is KillSwitch.OFF
    ssm.put_parameter(Name=KILL_SWITCH_PARAMETER, Value="maybe", Type="String", Overwrite=True)
    assert switch.kill_switch() is KillSwitch.NO_NEW_POSITIONS  # unknown value: fail safe, never "off"
    switch.set_kill_switch(KillSwitch.CLOSE_ALL)
    assert switch.kill_switch() is KillSwitch.CLOSE_ALL


def test_kill_switch_is_cached_for_its_window(aws: None) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name=KILL_SWITCH_PARAMETER, Value="off", Type="String")
    switch = SsmKillSwitch(ssm, KILL_SWITCH_PARAMETER, cache_seconds=300)
    assert switch.kill_switch() is KillSwitch.OFF
    ssm.put_parameter(Name=KILL_SWITCH_PARAMETER, Value="close-all", Type="String", Overwrite=True)
    assert switch.kill_switch() is KillSwitch.OFF  # cached: every tick does not pay an SSM call


def _workflows(workflow: str, name: str) -> tuple[Any, str, StepFunctionsWorkflows]:
    """The Step Functions client, one state machine rendered from `workflow` (its ARN) and the adapter over it."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = render(workflow, {"PositionStepsFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:steps"})
    arn = sfn.create_state_machine(name=name, definition=definition,
                                   roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]
    return sfn, arn, StepFunctionsWorkflows(sfn, arn, arn)


def _position(status: PositionStatus) -> Position:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Position("p1", "u1", Asset.SOL, Protocol.KAMINO, Decimal(3), Decimal(100), status, now, now)


def test_starting_the_same_open_twice_is_one_execution(aws: None) -> None:
    sfn, arn, workflows = _workflows("open_position", "open")
    position = _position(PositionStatus.PENDING)
    first = workflows.start_open(position, "j1")
    second = workflows.start_open(position, "j1")
    assert first == second
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert len(executions) == 1
    described: dict[str, Any] = sfn.describe_execution(executionArn=first)
    assert json.loads(described["input"]) == {"user_id": "u1", "position_id": "p1", "job_id": "j1"}


@pytest.fixture
def parked_executions() -> Iterator[None]:
    """Executions that stay RUNNING until stopped (moto's default; `dnbot local` turns on its ASL executor
    process-wide, so it is set here and put back)."""
    from moto.core.config import default_user_config

    before = default_user_config.get("stepfunctions")
    default_user_config["stepfunctions"] = {"execute_state_machine": False}
    yield
    if before is None:
        default_user_config.pop("stepfunctions", None)
    else:
        default_user_config["stepfunctions"] = before


def test_a_duplicate_close_joins_the_running_one_and_a_later_close_runs_again(aws: None,
                                                                              parked_executions: None) -> None:
    sfn, arn, workflows = _workflows("close_position", "close")
    position = _position(PositionStatus.OPEN)
    assert workflows.start_close(position, "j1", "user") == "j1"
    assert workflows.start_close(position, "j2", "kill switch") == "j1"  # already running: that close's job
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in executions] == ["close-p1"]
    sfn.stop_execution(executionArn=executions[0]["executionArn"])  # it ended (e.g. in needs_attention)
    assert workflows.start_close(position, "j3", "user again") == "j3"
    assert workflows.start_close(position, "j4", "double click") == "j3"
    names = sorted(e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"])
    assert names == ["close-p1", "close-p1-2"]


def test_every_task_has_a_timeout_and_jittered_retries_moto_accepts(aws: None) -> None:
    """moto's ASL parser (a port of LocalStack's) accepts TimeoutSeconds, JitterStrategy and MaxDelaySeconds."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    for name in ("open_position", "close_position", "rebalance_position"):
        text = render(name, {"PositionStepsFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:steps"})
        states = json.loads(text)["States"]
        tasks = [s for s in states.values() if s["Type"] == "Task"]
        assert tasks and all(t["TimeoutSeconds"] > 0 for t in tasks)
        assert all(r["JitterStrategy"] == "FULL" for t in tasks for r in t["Retry"])
        sfn.create_state_machine(name=name, definition=text, roleArn="arn:aws:iam::123456789012:role/r")


def test_a_rebalance_is_one_execution_per_number_while_it_runs(aws: None, parked_executions: None) -> None:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = render("rebalance_position", {"PositionStepsFunctionArn":
                                               "arn:aws:lambda:us-east-1:123456789012:function:steps"})
    arn = sfn.create_state_machine(name="rebalance", definition=definition,
                                   roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]
    workflows = StepFunctionsWorkflows(sfn, arn, arn, arn)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    position = Position("p1", "u1", Asset.SOL, Protocol.KAMINO, Decimal(3), Decimal(100), PositionStatus.OPEN,
                        now, now, rebalances=2)
    assert workflows.start_rebalance(position, "distance", Decimal("0.3")) == "rebalance-p1-3"
    assert workflows.start_rebalance(position, "next tick", Decimal("0.3")) == "rebalance-p1-3"  # running: joined
    (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"]) == {
        "user_id": "u1", "position_id": "p1", "number": 3, "reason": "distance", "target_distance": "0.3"}
    sfn.stop_execution(executionArn=execution["executionArn"])  # ended without recording rebalance 3
    assert workflows.start_rebalance(position, "later", Decimal("0.3")) == "rebalance-p1-3-2"
    names = sorted(e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"])
    assert names == ["rebalance-p1-3", "rebalance-p1-3-2"]
