"""`dnbot ops` against `dnbot local`: the AWS endpoint it prints is all the operator needs."""

from __future__ import annotations

import json

import pytest

from dnbot import cli, resources
from dnbot.local.system import LocalSystem
from tests.integration.helpers import Terminal

pytestmark = pytest.mark.xdist_group("moto")


def _ops(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["ops", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_printed_endpoint_is_the_one_ops_uses(system: LocalSystem, terminal: Terminal) -> None:
    assert system.cloud is not None
    assert any(system.cloud.endpoint_url in line for line in terminal.lines)


def test_status_and_kill_switch_against_dnbot_local(system: LocalSystem, capsys: pytest.CaptureFixture[str]) -> None:
    assert system.cloud is not None and system.runtime is not None
    url = system.cloud.endpoint_url
    code, out, _ = _ops(capsys, "--endpoint-url", url, "--json", "status")
    assert code == 0
    status = json.loads(out)
    assert status["kill_switch"] == "off"
    assert set(status["positions"]) == {"pending", "open", "closing", "needs_attention", "closed", "failed"}
    assert set(status["failed_executions"]) == {m.local_name for m in resources.STATE_MACHINES}
    assert set(status["dead_letter_queues"]) == {f"{q.local_name}-dlq" for q in resources.QUEUES}
    assert all(depth == 0 for depth in status["dead_letter_queues"].values())
    assert status["rates_at"] is not None and 0 <= status["rates_age_seconds"] < 3600 * 24 * 365 * 10

    # A message in a dead-letter queue and the kill switch show up as things to look at.
    sqs = system.cloud.client("sqs")
    dlq = sqs.get_queue_url(QueueName=f"{resources.NOTIFICATION_QUEUE.local_name}-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"user_id": "u", "text": "lost"}))
    code, out, _ = _ops(capsys, "--endpoint-url", url, "kill-switch", "no-new-positions")
    assert (code, out.strip()) == (0, "kill switch is now no-new-positions")
    assert system.runtime.kill_switch.kill_switch() in {resources.KillSwitch.NO_NEW_POSITIONS,
                                                         resources.KillSwitch.OFF}  # cached up to 5 s
    code, out, _ = _ops(capsys, "--endpoint-url", url, "status")
    assert code == 0
    assert "kill switch        no-new-positions" in out
    assert f"{resources.NOTIFICATION_QUEUE.local_name}-dlq=1" in out
    assert "dead-letter queue dnbot-notifications-dlq holds 1 message(s)" in out
    sqs.purge_queue(QueueUrl=dlq)
    assert _ops(capsys, "--endpoint-url", url, "kill-switch", "off")[0] == 0
    ssm = system.cloud.client("ssm")
    assert ssm.get_parameter(Name=resources.KILL_SWITCH_PARAMETER)["Parameter"]["Value"] == "off"


@pytest.mark.parametrize(("argv", "message"), [
    (["status"], "one of the arguments --stack --endpoint-url is required"),
    (["--endpoint-url", "127.0.0.1:4566", "status"], "--endpoint-url must be an http(s) URL"),
    (["--endpoint-url", "http://127.0.0.1:1", "kill-switch", "maybe"], "invalid choice: 'maybe'"),
    (["--endpoint-url", "http://127.0.0.1:1", "--profile", "x", "status"], "--profile is for deployed stacks"),
    (["--stack", "Dnbot", "--endpoint-url", "http://127.0.0.1:1", "status"], "not allowed with argument"),
])
def test_bad_input_exits_2_with_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    try:
        code = cli.main(["ops", *argv])  # a UsageError: main returns 2
    except SystemExit as exited:  # argparse's errors exit
        code = int(exited.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err
