"""`dnbot ops`: the operator's command line, against a deployed stack or against `dnbot local`.

    dnbot ops --stack Dnbot [--profile P] [--region R] status
    dnbot ops --stack Dnbot kill-switch close-all
    dnbot ops --endpoint-url http://127.0.0.1:PORT status     # the AWS endpoint `dnbot local` prints

`status` reports the kill switch, positions by status, failed or timed-out workflow executions of the last 24
hours, the depth of every dead-letter queue and the age of the last rates snapshot. A deployed stack's resources
are found through CloudFormation (its logical ids); `dnbot local`'s by the local names in dnbot.resources.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dnbot import resources
from dnbot.cli import UsageError

FAILED_EXECUTION_WINDOW = timedelta(hours=24)
FAILED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
# Position statuses as stored (dnbot.domain.positions.PositionStatus values), in lifecycle order.
POSITION_STATUSES = ("pending", "open", "closing", "needs_attention", "closed", "failed")
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


@dataclass(frozen=True)
class Target:
    """Where the operator's resources are: names and URLs, whichever way they were found."""

    table: str
    kill_switch_parameter: str
    state_machines: dict[str, str]  # name -> ARN
    dead_letter_queues: dict[str, str]  # name -> URL


@dataclass
class Status:
    kill_switch: str
    positions: dict[str, int]
    failed_executions: dict[str, int]  # state machine -> failed/timed out/aborted in the last 24 h
    dead_letter_queues: dict[str, int]  # queue -> messages
    rates_at: str | None
    rates_age_seconds: int | None
    problems: list[str] = field(default_factory=list)
    kill_switch_note: str | None = None  # why `kill_switch` is not the parameter's value (missing or unknown)


class Clients:
    def __init__(self, profile: str | None, region: str | None, endpoint_url: str | None) -> None:
        import boto3

        if endpoint_url:
            self._session = boto3.Session(region_name=region or "us-east-1",
                                          aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
                                          aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"])
        else:
            self._session = boto3.Session(profile_name=profile, region_name=region)
        self._endpoint = endpoint_url
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        """One client per service for the whole command (a client is slow to build)."""
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self._endpoint)  # type: ignore[call-overload]
        return self._clients[service]


def stack_target(client: Clients, stack: str) -> Target:
    """The deployed stack's resources, by their CloudFormation logical ids."""
    from botocore.exceptions import ClientError

    try:
        found = client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    except ClientError as error:
        raise UsageError(f"stack {stack!r}: {error.response['Error']['Message']}") from error
    by_type: dict[str, dict[str, str]] = {}
    for resource in found:
        by_type.setdefault(resource["ResourceType"], {})[resource["LogicalResourceId"]] = resource[
            "PhysicalResourceId"]
    tables = [name for logical, name in by_type.get("AWS::DynamoDB::Table", {}).items()
              if logical.startswith(resources.STATE_TABLE.logical_id)]
    if not tables:
        raise UsageError(f"stack {stack!r} has no dnbot state table: is it a dnbot stack?")
    machines = dict(by_type.get("AWS::StepFunctions::StateMachine", {}))
    dlqs = {logical: url for logical, url in by_type.get("AWS::SQS::Queue", {}).items() if "Dlq" in logical}
    return Target(tables[0], resources.KILL_SWITCH_PARAMETER, machines, dlqs)


def local_target(client: Clients) -> Target:
    """`dnbot local`'s resources, by the local names both sides take from dnbot.resources."""
    local_names = {spec.local_name for spec in resources.STATE_MACHINES}
    machines = {m["name"]: m["stateMachineArn"] for m in client("stepfunctions").list_state_machines()["stateMachines"]
                if m["name"] in local_names}
    urls = client("sqs").list_queues().get("QueueUrls", [])
    dlqs = {url.rsplit("/", 1)[-1]: url for url in urls if url.endswith("-dlq")}
    return Target(resources.STATE_TABLE.local_name, resources.KILL_SWITCH_PARAMETER, machines, dlqs)


def read_status(client: Clients, target: Target, now: datetime) -> Status:
    ssm, dynamodb = client("ssm"), client("dynamodb")
    switch, note = _read_kill_switch(ssm, target.kill_switch_parameter)
    positions = {status: _count_status(dynamodb, target.table, status) for status in POSITION_STATUSES}
    since = now - FAILED_EXECUTION_WINDOW
    failed = {name: _count_failed(client("stepfunctions"), arn, since) for name, arn in target.state_machines.items()}
    sqs = client("sqs")
    depths = {name: int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                        ["Attributes"]["ApproximateNumberOfMessages"])
              for name, url in target.dead_letter_queues.items()}
    from dnbot.adapters.aws.dynamodb import latest_rates_key  # the rates store's own key

    latest = dynamodb.get_item(TableName=target.table,
                               Key={name: {"S": value} for name, value in latest_rates_key().items()}).get("Item")
    rates_at = latest["at"]["S"] if latest and "at" in latest else None
    age = int((now - datetime.fromisoformat(rates_at)).total_seconds()) if rates_at else None
    status = Status(switch, positions, failed, depths, rates_at, age, kill_switch_note=note)
    if switch != resources.KillSwitch.OFF.value:
        status.problems.append(f"kill switch is {switch}")
    if positions["needs_attention"]:
        status.problems.append(f"{positions['needs_attention']} position(s) need attention")
    status.problems += [f"{name}: {n} failed execution(s) in 24 h" for name, n in failed.items() if n]
    status.problems += [f"dead-letter queue {name} holds {n} message(s)" for name, n in depths.items() if n]
    if age is None:
        status.problems.append("no rates snapshot yet")
    else:
        from dnbot.settings import Settings

        limit = Settings.model_fields["rates_stale_after_seconds"].default
        if age > limit:
            status.problems.append(f"rates are {age} s old (> {limit} s: opens are refused)")
    return status


def _read_kill_switch(ssm: Any, name: str) -> tuple[str, str | None]:
    """The switch as every tick and Preflight read it (adapters/aws/ssm: a missing or unknown value is
    no-new-positions, fail safe), and why when that is not the parameter's own value."""
    safe = resources.KillSwitch.NO_NEW_POSITIONS.value
    try:
        value = str(ssm.get_parameter(Name=name)["Parameter"]["Value"]).strip()
    except ssm.exceptions.ParameterNotFound:
        return safe, f"the parameter is missing: the bot reads it as {safe}"
    known = [switch.value for switch in resources.KillSwitch]
    if value not in known:
        return safe, (f"the parameter reads {value!r}, not {', '.join(known[:-1])} or {known[-1]}: "
                      f"the bot reads it as {safe}")
    return value, None


def _count_status(dynamodb: Any, table: str, status: str) -> int:
    total, kwargs = 0, {"TableName": table, "IndexName": resources.STATE_TABLE.indexes[0].name, "Select": "COUNT",
                        "KeyConditionExpression": "gsi1pk = :s",
                        "ExpressionAttributeValues": {":s": {"S": f"STATUS#{status}"}}}
    while True:
        reply = dynamodb.query(**kwargs)
        total += int(reply["Count"])
        if "LastEvaluatedKey" not in reply:
            return total
        kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def _count_failed(sfn: Any, arn: str, since: datetime) -> int:
    count = 0
    for status in FAILED_STATUSES:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter=status):
            count += sum(1 for e in page["executions"] if (e.get("stopDate") or e["startDate"]) >= since)
    return count


def set_kill_switch(client: Clients, target: Target, value: str) -> str:
    client("ssm").put_parameter(Name=target.kill_switch_parameter, Value=value, Type="String", Overwrite=True)
    return str(client("ssm").get_parameter(Name=target.kill_switch_parameter)["Parameter"]["Value"])


def render(status: Status) -> str:
    note = f" ({status.kill_switch_note})" if status.kill_switch_note else ""
    lines = [f"kill switch        {status.kill_switch}{note}",
             "positions          " + "  ".join(f"{k}={v}" for k, v in status.positions.items())]
    lines.append("failed executions  " + ("  ".join(f"{k}={v}" for k, v in status.failed_executions.items())
                                          or "(no workflows found)") + "   (last 24 h)")
    lines.append("dead-letter queues " + ("  ".join(f"{k}={v}" for k, v in status.dead_letter_queues.items())
                                          or "(none found)"))
    lines.append("last rates         " + (f"{status.rates_at} ({status.rates_age_seconds} s ago)"
                                          if status.rates_at else "none yet"))
    lines.append("attention          " + ("; ".join(status.problems) if status.problems else "nothing"))
    return "\n".join(lines)


# --- command line ----------------------------------------------------------------------------------------------

def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("ops", help="operator: status and kill switch of a deployed stack or dnbot local")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="CloudFormation stack name of a deployment (e.g. Dnbot)")
    where.add_argument("--endpoint-url", help="the AWS endpoint `dnbot local` prints (http://127.0.0.1:PORT)")
    parser.add_argument("--profile", help="AWS profile (deployed stacks)")
    parser.add_argument("--region", help="AWS region (default: the profile's)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    actions = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
    actions.add_parser("status", help="kill switch, positions by status, failed executions, DLQs, rates age")
    switch = actions.add_parser("kill-switch", help="set the kill switch")
    switch.add_argument("value", choices=[v.value for v in resources.KillSwitch])
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    if args.endpoint_url and not args.endpoint_url.startswith(("http://", "https://")):
        raise UsageError(f"--endpoint-url must be an http(s) URL, got {args.endpoint_url!r}")
    if args.endpoint_url and args.profile:
        raise UsageError("--profile is for deployed stacks; dnbot local needs only --endpoint-url")
    try:
        client = Clients(args.profile, args.region, args.endpoint_url)
        target = stack_target(client, args.stack) if args.stack else local_target(client)
        if args.action == "kill-switch":
            value = set_kill_switch(client, target, args.value)
            print(json.dumps({"kill_switch": value}) if args.json else f"kill switch is now {value}")
            return 0
        status = read_status(client, target, datetime.now(UTC))
    except (BotoCoreError, ClientError) as error:
        raise UsageError(f"cannot reach the stack's AWS resources: {' '.join(str(error).split())}") from error
    print(json.dumps(asdict(status), indent=2) if args.json else render(status))
    return 0
