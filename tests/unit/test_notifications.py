"""Notifications without AWS: the webhook URL policy (SSRF), which activity becomes a message, the stream's
operator metrics, and delivery that re-checks the URL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dnbot import observability
from dnbot.services.errors import NotFound
from dnbot.services.notifications import InvalidWebhook, NotificationService, WebhookPolicy, notification_for
from dnbot.services.signals import stream_signals

DNS = {
    "hooks.slack.com": ["52.1.2.3"],
    "discord.com": ["162.159.128.233", "2606:4700::6810:84e5"],
    "internal.example": ["10.1.2.3"],
    "metadata.example": ["169.254.169.254"],
    "mixed.example": ["52.1.2.3", "192.168.1.9"],
    "localhost": ["127.0.0.1", "::1"],
    "v6local.example": ["fd00::1"],
}


def resolve(host: str, port: int) -> list[str]:
    if host in DNS:
        return DNS[host]
    try:
        import ipaddress

        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        raise OSError(f"cannot resolve {host}") from None


AWS = WebhookPolicy(resolve)
LOCAL = WebhookPolicy(resolve, allow_loopback_http=True)


@pytest.mark.parametrize("url", [
    "https://hooks.slack.com/services/T0/B0/xyz", "https://discord.com/api/webhooks/1/abc",
    " https://hooks.slack.com/services/T0/B0/xyz ",
])
def test_public_https_webhooks_are_accepted(url: str) -> None:
    assert AWS.check(url) == url.strip()


@pytest.mark.parametrize(("url", "why"), [
    ("http://hooks.slack.com/services/x", "https"),
    ("ftp://hooks.slack.com/x", "https"),
    ("https://internal.example/hook", "private"),
    ("https://metadata.example/latest", "private"),
    ("https://169.254.169.254/latest/meta-data", "private"),
    ("https://mixed.example/hook", "private"),  # one private address is enough to refuse
    ("https://localhost/hook", "private"),
    ("https://[::1]/hook", "private"),
    ("https://v6local.example/hook", "private"),
    ("https://127.0.0.1:8080/hook", "private"),
    ("http://127.0.0.1:9000/hook", "https"),  # loopback http only under dnbot local
    ("https://user:pw@hooks.slack.com/x", "user name"),
    ("https://nowhere.invalid/x", "does not resolve"),
    ("https://hooks.slack.com:99999/x", "not a valid URL"),
    ("", "1-2048"),
    ("https://hooks.slack.com/" + "a" * 2100, "1-2048"),
])
def test_unsafe_webhooks_are_refused_in_aws(url: str, why: str) -> None:
    with pytest.raises(InvalidWebhook, match=why):
        AWS.check(url)


def test_local_allows_http_to_loopback_only() -> None:
    assert LOCAL.check("http://127.0.0.1:9000/hook") == "http://127.0.0.1:9000/hook"
    assert LOCAL.check("http://localhost:9000/hook") == "http://localhost:9000/hook"
    with pytest.raises(InvalidWebhook, match="private"):
        LOCAL.check("https://internal.example/hook")
    with pytest.raises(InvalidWebhook, match="https"):
        LOCAL.check("http://hooks.slack.com/x")


def _activity(kind: str, **extra: Any) -> dict[str, Any]:
    return {"pk": "USER#u1", "sk": "ACT#x", "type": "activity", "user_id": "u1", "kind": kind,
            "message": f"{kind} happened.", "at": "2026-12-01T00:00:00+00:00", "position_id": "p1", **extra}


@pytest.mark.parametrize("kind", ["position_opened", "position_closed", "unwind", "position_failed",
                                  "needs_attention", "position_rebalanced", "rebalance_failed", "liquidation_warning",
                                  "withdrawal",
                                  "deposit", "deposit_failed"])
def test_trading_events_become_messages(kind: str) -> None:
    found = notification_for(_activity(kind, detail={"funding_usd": "1.25"}))
    assert found is not None
    user_id, text, event = found
    assert (user_id, text) == ("u1", f"dnbot: {kind} happened.")
    assert event == {"kind": kind, "at": "2026-12-01T00:00:00+00:00", "position_id": "p1",
                     "detail": {"funding_usd": "1.25"}}


@pytest.mark.parametrize("item", [
    _activity("open_requested"), _activity("settings"), _activity("bot"), _activity("kill_switch"),
    {"type": "position", "user_id": "u1", "status": "open"}, {"type": "rates", "sk": "LATEST"},
])
def test_other_changes_are_not_messages(item: dict[str, Any]) -> None:
    assert notification_for(item) is None


class Memory:
    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.queued: list[tuple[str, str, dict[str, Any]]] = []
        self.posted: list[tuple[str, dict[str, Any]]] = []

    def get_webhook(self, user_id: str) -> str | None:
        return self.urls.get(user_id)

    def put_webhook(self, user_id: str, url: str) -> None:
        self.urls[user_id] = url

    def delete_webhook(self, user_id: str) -> None:
        self.urls.pop(user_id, None)

    def notify(self, user_id: str, text: str, event: dict[str, Any]) -> None:
        self.queued.append((user_id, text, event))

    def post(self, url: str, body: dict[str, Any]) -> None:
        self.posted.append((url, body))

    def now(self) -> datetime:
        return datetime(2026, 12, 1, tzinfo=UTC)


def test_only_users_with_a_webhook_are_queued_and_delivery_rechecks_the_url() -> None:
    memory = Memory()
    service = NotificationService(memory, memory, memory, AWS, memory)
    with pytest.raises(NotFound):
        service.send_test("u1")
    assert service.from_stream([({}, _activity("position_opened"))]) == 0  # no webhook: nothing queued
    service.save_webhook("u1", "https://hooks.slack.com/services/T0/B0/xyz")
    assert service.from_stream([({}, _activity("position_opened")), ({}, _activity("settings"))]) == 1
    (user_id, text, event), = memory.queued
    assert service.deliver({"user_id": user_id, "text": text, "event": event}) is True
    assert memory.posted == [("https://hooks.slack.com/services/T0/B0/xyz",
                              {"text": text, "event": event})]
    # The host now resolves inside the network (DNS rebinding): the message is dropped, not POSTed.
    DNS["rebind.example"] = ["52.9.9.9"]
    service.save_webhook("u1", "https://rebind.example/hook")
    DNS["rebind.example"] = ["10.0.0.5"]
    assert service.deliver({"user_id": "u1", "text": "x", "event": {}}) is False
    service.remove_webhook("u1")
    assert service.deliver({"user_id": "u1", "text": "x", "event": {}}) is False
    assert len(memory.posted) == 1


def test_stream_signals_count_needs_attention_transitions_and_funding() -> None:
    attention = {"type": "position", "status": "needs_attention"}
    closed = _activity("position_closed", detail={"funding_usd": "3.50", "total_usd": "2.00"})
    signals = stream_signals([
        ({"type": "position", "status": "closing"}, attention),  # entered: counted
        (attention, {**attention, "version": 7}),  # already there: not again
        ({}, closed),  # a new close line: its funding
        ({}, _activity("position_opened")),
    ])
    assert signals == [(observability.POSITION_NEEDS_ATTENTION, 1.0), (observability.FUNDING_EARNED_USD, 3.5)]


def test_fleet_gauges_count_open_positions_and_their_capital() -> None:
    from decimal import Decimal

    from dnbot.services.signals import fleet_gauges

    class Leg:
        def __init__(self, notional: str) -> None:
            self.notional_usd = Decimal(notional)

    class Open:
        def __init__(self, leverage: str, long: str, short: str | None) -> None:
            self.leverage = Decimal(leverage)
            self.long_leg, self.short_leg = Leg(long), Leg(short) if short else None

    # capital 1000 at 2x holds 1000 on each leg; a half-open position counts the leg it has
    gauges = fleet_gauges([Open("2", "1000", "1000"), Open("3", "600", None)])
    assert gauges == [(observability.POSITIONS_OPEN, 2.0), (observability.CAPITAL_DEPLOYED_USD, 1200.0)]
    assert fleet_gauges([]) == [(observability.POSITIONS_OPEN, 0.0), (observability.CAPITAL_DEPLOYED_USD, 0.0)]


def test_a_position_closing_for_liquidation_risk_is_a_liquidation_warning() -> None:
    from dnbot.services.notifications import liquidation_warning_for

    position = {"type": "position", "user_id": "u1", "position_id": "p1", "asset": "SOL", "protocol": "kamino",
                "status": "open", "updated_at": "2026-12-01T00:00:00+00:00"}
    closing = {**position, "status": "closing", "close_reason": "liquidation_distance"}
    found = liquidation_warning_for(position, closing)
    assert found is not None
    user_id, text, event = found
    assert user_id == "u1" and text.startswith("dnbot: liquidation warning: SOL on kamino")
    assert event == {"kind": "liquidation_warning", "at": "2026-12-01T00:00:00+00:00", "position_id": "p1",
                     "detail": {"reason": "liquidation_distance"}}
    assert liquidation_warning_for(position, {**closing, "close_reason": "requested by user"}) is None
    assert liquidation_warning_for(closing, {**closing, "version": 3}) is None  # already closing: once

    memory = Memory()
    service = NotificationService(memory, memory, memory, AWS, memory)
    service.save_webhook("u1", "https://hooks.slack.com/services/T0/B0/xyz")
    assert service.from_stream([(position, closing), ({}, _activity("position_opened"))]) == 2
    assert [e["kind"] for _, _, e in memory.queued] == ["liquidation_warning", "position_opened"]


def test_a_risk_warning_line_is_a_liquidation_warning_message() -> None:
    found = notification_for(_activity("risk_warning", message="Liquidation warning on SOL: Asgard health factor "
                                       "1.150 (the bot closes under 1.10).", detail={"health_factor": "1.15"}))
    assert found is not None
    _user_id, text, event = found
    assert text == "dnbot: Liquidation warning on SOL: Asgard health factor 1.150 (the bot closes under 1.10)."
    assert event["kind"] == "liquidation_warning" and event["detail"] == {"health_factor": "1.15"}
