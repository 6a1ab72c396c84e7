"""Where the functions' CloudWatch EMF metric lines go: stdout in Lambda (CloudWatch Logs turns them into
metrics), a file in `dnbot local` (its terminal is for the trader's lines and ALERTs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from dnbot import observability
from dnbot.local.functions import LocalFunctions
from dnbot.runtime import install


def _closed_activity_event(funding_usd: str) -> dict[str, Any]:
    """The stream record of a position_closed activity line: ws_broadcast emits FundingEarnedUsd for it."""
    item = {"pk": "USER#u1", "sk": "ACTIVITY#1", "type": "activity", "kind": "position_closed",
            "user_id": "u1", "detail": {"funding_usd": funding_usd}}
    serializer = TypeSerializer()
    return {"Records": [{"eventName": "INSERT", "eventSource": "aws:dynamodb", "dynamodb": {
        "NewImage": {k: serializer.serialize(v) for k, v in item.items()}, "StreamViewType": "NEW_AND_OLD_IMAGES"}}]}


def _emf(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


@pytest.fixture
def broadcast(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalFunctions]:
    """The real ws_broadcast handler over a runtime that only counts what it would push."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)  # `dnbot local` in this process may set it
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    install(SimpleNamespace(live_updates=SimpleNamespace(broadcast=lambda changed: len(changed)),  # type: ignore[arg-type]
                            settings=SimpleNamespace(notification_queue_url=None)))
    try:
        yield LocalFunctions()
    finally:
        install(None)
        observability.send_metrics_to(None)


def test_a_deployed_handler_prints_its_metrics_as_emf_on_stdout(broadcast: LocalFunctions,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert broadcast.invoke("ws_broadcast", _closed_activity_event("12.5")) == {"sent": 1, "notified": 0}
    [line] = _emf(capsys.readouterr().out)
    assert line["FundingEarnedUsd"] == [12.5] and line["service"] == "dnbot"
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == observability.NAMESPACE


def test_local_mode_appends_the_metrics_to_a_file_and_keeps_stdout_clean(
        broadcast: LocalFunctions, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "state" / "metrics.jsonl"
    observability.send_metrics_to(target)

    @observability.metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> None:
        observability.metrics.add_metric(name=observability.RATES_POLLED, unit="Count", value=1)

    broadcast.invoke("ws_broadcast", _closed_activity_event("12.5"))
    handler({}, None)
    assert _emf(capsys.readouterr().out) == []
    written = _emf(target.read_text())
    assert [line.get("FundingEarnedUsd") for line in written] == [[12.5], None]
    assert written[1][observability.RATES_POLLED] == [1.0]

    observability.send_metrics_to(None)  # back to what a Lambda does
    observability.record(observability.RECONCILER_DRIFT, 2)
    assert _emf(capsys.readouterr().out)[0][observability.RECONCILER_DRIFT] == [2.0]
    assert len(target.read_text().splitlines()) == 2


def test_powertools_documented_switch_still_silences_them(broadcast: LocalFunctions, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    broadcast.invoke("ws_broadcast", _closed_activity_event("3"))
    assert _emf(capsys.readouterr().out) == []
