"""The operator's side of the stack, asserted on the synthesized template: every asynchronous path ends in a
dead-letter queue after retries, every failure signal is an alarm on the alerts topic, the dashboard shows them,
and the template passes cfn-lint with zero errors.

Expectations are stated from the outside (which signals must page), not read back from infra/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dnbot import observability, resources
from tests.infra.conftest import REPO_ROOT, load_infra_app
from tests.infra.test_stack import Synth, synth_inputs

pytestmark = pytest.mark.xdist_group("cdk_synth")

ALERT_EMAILS = ("ops@example.com", "oncall@example.com")


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    from aws_cdk import assertions

    root = tmp_path_factory.mktemp("cdk-ops")
    app, stack = load_infra_app().build_app(outdir=str(root / "cdk.out"),
                                            context={**synth_inputs(root), "alertEmail": ",".join(ALERT_EMAILS)})
    assembly = app.synth()
    raw = assembly.get_stack_by_name(stack.stack_name).template
    yield Synth(stack=stack, template=assertions.Template.from_json(raw), raw=raw,
                assembly_dir=Path(assembly.directory), nag_report=None)


def _ref(synth: Synth, construct: Any) -> dict[str, str]:
    return {"Ref": synth.logical_id(construct)}


def _arn_of(value: Any) -> str | None:
    """The logical id an `Fn::GetAtt [X, Arn]` points at."""
    if isinstance(value, dict) and "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Arn":
        return str(value["Fn::GetAtt"][0])
    return None


def _dead_letter_queue_ids(synth: Synth) -> set[str]:
    """Every queue something sends its failures to: redrive policies, rule targets, destinations."""
    ids: set[str] = set()
    for queue in synth.of_type("AWS::SQS::Queue").values():
        redrive = queue["Properties"].get("RedrivePolicy")
        if redrive:
            ids.add(str(_arn_of(redrive["deadLetterTargetArn"])))
    for rule in synth.of_type("AWS::Events::Rule").values():
        for target in rule["Properties"]["Targets"]:
            ids.add(str(_arn_of(target["DeadLetterConfig"]["Arn"])))
    for kind in ("AWS::Lambda::EventInvokeConfig", "AWS::Lambda::EventSourceMapping"):
        for config in synth.of_type(kind).values():
            on_failure = config["Properties"].get("DestinationConfig", {}).get("OnFailure")
            if on_failure:
                ids.add(str(_arn_of(on_failure["Destination"])))
    ids.discard("None")
    return ids


# --- dead letters ------------------------------------------------------------------------------------------------

def test_every_schedule_retries_then_dead_letters(synth: Synth) -> None:
    scheduled = [spec for spec in resources.FUNCTIONS if spec.schedule_minutes is not None]
    rules = synth.of_type("AWS::Events::Rule")
    assert len(rules) == len(scheduled)
    queues = synth.of_type("AWS::SQS::Queue")
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        assert _arn_of(target["DeadLetterConfig"]["Arn"]) in queues
    # EventBridge invokes Lambda asynchronously: a run that fails is retried by Lambda, then dead-lettered.
    invoke_configs = {config["Properties"]["FunctionName"]["Ref"]: config["Properties"]
                      for config in synth.of_type("AWS::Lambda::EventInvokeConfig").values()}
    for spec in scheduled:
        config = invoke_configs[synth.logical_id(synth.stack.functions[spec.name])]
        assert config["MaximumRetryAttempts"] >= 1
        assert _arn_of(config["DestinationConfig"]["OnFailure"]["Destination"]) in queues


def test_every_event_source_mapping_has_a_failure_path(synth: Synth) -> None:
    mappings = synth.of_type("AWS::Lambda::EventSourceMapping")
    assert mappings
    queues = synth.of_type("AWS::SQS::Queue")
    for mapping in mappings.values():
        props = mapping["Properties"]
        if "StartingPosition" in props:  # a stream: bisect, bounded retries, then the on-failure queue
            assert props["BisectBatchOnFunctionError"] is True
            assert 0 <= props["MaximumRetryAttempts"] <= 10
            assert _arn_of(props["DestinationConfig"]["OnFailure"]["Destination"]) in queues
        else:  # a queue: SQS retries by redelivery, then its redrive policy moves the message to its DLQ
            source = _arn_of(props["EventSourceArn"])
            redrive = queues[str(source)]["Properties"]["RedrivePolicy"]
            assert 1 <= redrive["maxReceiveCount"] <= 10
            assert _arn_of(redrive["deadLetterTargetArn"]) in queues


def test_every_queue_is_a_dead_letter_queue_or_has_one(synth: Synth) -> None:
    dlqs = _dead_letter_queue_ids(synth)
    for logical_id, queue in synth.of_type("AWS::SQS::Queue").items():
        assert logical_id in dlqs or "RedrivePolicy" in queue["Properties"], logical_id
        if logical_id in dlqs:
            assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600, logical_id


# --- alarms -------------------------------------------------------------------------------------------------------

def _alarms(synth: Synth) -> list[dict[str, Any]]:
    return [a["Properties"] for a in synth.of_type("AWS::CloudWatch::Alarm").values()]


def _alarm_on(synth: Synth, metric_name: str, dimension: tuple[str, Any] | None = None) -> dict[str, Any]:
    found = [a for a in _alarms(synth) if a.get("MetricName") == metric_name
             and (dimension is None or {"Name": dimension[0], "Value": dimension[1]} in a.get("Dimensions", []))]
    assert len(found) == 1, (metric_name, dimension, len(found))
    return found[0]


def test_every_alarm_notifies_the_alerts_topic(synth: Synth) -> None:
    topic = _ref(synth, synth.stack.alerts_topic)
    alarms = _alarms(synth)
    assert len(alarms) >= 20
    for alarm in alarms:
        assert alarm["AlarmActions"] == [topic], alarm.get("AlarmDescription")
        assert alarm["AlarmDescription"].startswith("dnbot: ")


def test_alert_emails_from_context_subscribe_to_the_topic(synth: Synth) -> None:
    subscriptions = {(s["Properties"]["Protocol"], s["Properties"]["Endpoint"])
                     for s in synth.of_type("AWS::SNS::Subscription").values()
                     if s["Properties"]["TopicArn"] == _ref(synth, synth.stack.alerts_topic)}
    assert subscriptions >= {("email", email) for email in ALERT_EMAILS}
    app_doc = (REPO_ROOT / "infra" / "app.py").read_text()
    assert "alertEmail" in app_doc


def test_errors_and_throttles_alarm_for_every_function(synth: Synth) -> None:
    for spec in resources.FUNCTIONS:
        function = _ref(synth, synth.stack.functions[spec.name])
        for metric in ("Errors", "Throttles"):
            alarm = _alarm_on(synth, metric, ("FunctionName", function))
            assert (alarm["Namespace"], alarm["Statistic"], alarm["Threshold"]) == ("AWS/Lambda", "Sum", 1)
            assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_scheduled_runs_near_their_timeout_alarm(synth: Synth) -> None:
    tick = resources.function("strategy_tick")
    alarm = _alarm_on(synth, "Duration", ("FunctionName", _ref(synth, synth.stack.functions["strategy_tick"])))
    assert alarm["Statistic"] == "Maximum"
    assert 0.5 * tick.timeout_seconds * 1000 <= alarm["Threshold"] < tick.timeout_seconds * 1000


def test_failed_and_timed_out_workflows_alarm(synth: Synth) -> None:
    for machine in synth.stack.state_machines.values():
        for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
            alarm = _alarm_on(synth, metric, ("StateMachineArn", _ref(synth, machine)))
            assert (alarm["Namespace"], alarm["Threshold"]) == ("AWS/States", 1)


def test_every_dead_letter_queue_alarms_on_its_first_message(synth: Synth) -> None:
    dlqs = _dead_letter_queue_ids(synth)
    assert len(dlqs) >= 2
    for logical_id in dlqs:
        alarm = _alarm_on(synth, "ApproximateNumberOfMessagesVisible",
                          ("QueueName", {"Fn::GetAtt": [logical_id, "QueueName"]}))
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


def test_position_and_drift_alarms_read_the_emitted_metrics(synth: Synth) -> None:
    for name in (observability.POSITION_NEEDS_ATTENTION, observability.RECONCILER_DRIFT):
        alarm = _alarm_on(synth, name)
        assert alarm["Namespace"] == observability.NAMESPACE
        # Powertools adds service=<name> to every metric: an alarm without it would watch an empty series.
        assert alarm["Dimensions"] == [{"Name": "service", "Value": observability.SERVICE}]
        assert alarm["Threshold"] == 1


def test_stale_rates_alarm_when_polls_stop(synth: Synth) -> None:
    from dnbot.settings import Settings

    alarm = _alarm_on(synth, observability.RATES_POLLED)
    stale_seconds = Settings.model_fields["rates_stale_after_seconds"].default
    assert alarm["Period"] * alarm["EvaluationPeriods"] == stale_seconds
    assert (alarm["ComparisonOperator"], alarm["TreatMissingData"]) == ("LessThanThreshold", "breaching")


def test_api_5xx_rate_alarm(synth: Synth) -> None:
    (alarm,) = [a for a in _alarms(synth) if "5xx" in json.dumps(a.get("Metrics", []))]
    metric_names = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert metric_names == {"5xx", "Count"}
    api = _ref(synth, synth.stack.http_api)
    for query in alarm["Metrics"]:
        if "MetricStat" in query:
            assert {"Name": "ApiId", "Value": api} in query["MetricStat"]["Metric"]["Dimensions"]


# --- dashboard, tracing -------------------------------------------------------------------------------------------

def test_operations_dashboard_shows_the_signals(synth: Synth) -> None:
    (dashboard,) = synth.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for name in (observability.POSITIONS_OPEN, observability.CAPITAL_DEPLOYED_USD, observability.FUNDING_EARNED_USD,
                 observability.POSITION_NEEDS_ATTENTION, observability.RECONCILER_DRIFT, observability.RATES_POLLED,
                 "ExecutionsFailed", "Errors", "Throttles", "Duration", "ApproximateNumberOfMessagesVisible", "5xx"):
        assert name in body, name
    for alarm_id in synth.of_type("AWS::CloudWatch::Alarm"):
        assert alarm_id in body  # the alarm status widget lists every alarm


def test_tracing_is_on_everywhere(synth: Synth) -> None:
    for spec in resources.FUNCTIONS:
        props = synth.function(spec.name)["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == observability.NAMESPACE
    for machine in synth.stack.state_machines.values():
        assert synth.resource(machine)["Properties"]["TracingConfiguration"] == {"Enabled": True}


# --- cfn-lint -----------------------------------------------------------------------------------------------------

def test_template_passes_cfn_lint(synth: Synth) -> None:
    from cfnlint.api import ManualArgs, lint

    # W3005 (DependsOn implied by a GetAtt) is how aws-cdk-lib writes role policies; the Makefile ignores it too.
    matches = lint(json.dumps(synth.raw), config=ManualArgs(regions=["us-east-1"], ignore_checks=["W3005"]))
    errors = [f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.id.startswith("E")]
    assert errors == []


def test_make_targets_build_what_synthesis_needs() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    cdk_app = json.loads((REPO_ROOT / "cdk.json").read_text())["app"]
    assert "cdk-inputs" in cdk_app  # `npx cdk synth|deploy` builds the layers and the dashboard first
    for target in ("synth:", "deploy:", "cdk-inputs:"):
        assert target in makefile
    synth_rule = makefile.split("\nsynth:", 1)[1].split("\n\n", 1)[0]
    assert "cdk-inputs" in synth_rule.splitlines()[0] and "cfn-lint" in makefile


def test_notifications_go_through_a_queue_with_a_dead_letter_queue(synth: Synth) -> None:
    spec = resources.NOTIFICATION_QUEUE
    queue_id = synth.logical_id(synth.stack.work_queues[spec.logical_id])
    props = synth.raw["Resources"][queue_id]["Properties"]
    assert props["RedrivePolicy"]["maxReceiveCount"] == spec.max_receives
    assert props["VisibilityTimeout"] >= 6 * resources.function(spec.consumer).timeout_seconds
    (mapping,) = [m["Properties"] for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
                  if m["Properties"].get("EventSourceArn") == {"Fn::GetAtt": [queue_id, "Arn"]}]
    assert synth.logical_id(synth.stack.functions["notifier"]) in json.dumps(mapping["FunctionName"])
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Who may queue a notification: the stream consumer (activity lines) and the API (the test message).
    arn = {"Fn::GetAtt": [queue_id, "Arn"]}
    senders = {f.name for f in resources.FUNCTIONS if any(
        "sqs:SendMessage" in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
        and arn in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
        for st in synth.role_statements(f.name))}
    assert senders == {"ws_broadcast", "api"}
    for name in senders:
        env = synth.function(name)["Properties"]["Environment"]["Variables"]
        assert env[resources.ENV_NOTIFICATION_QUEUE_URL] == {"Ref": queue_id}
    dlq = synth.stack.dead_letter_queues[f"{spec.logical_id}Dlq"]
    _alarm_on(synth, "ApproximateNumberOfMessagesVisible",
              ("QueueName", {"Fn::GetAtt": [synth.logical_id(dlq), "QueueName"]}))
