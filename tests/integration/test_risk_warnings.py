"""Risk warnings through the strategy worker on moto and the paper venues: a live position whose Asgard health
factor drops past its warning level (short of the exit) gets one `risk_warning` line in the activity feed, however
many ticks read it, and another only after it recovered; the position stays open."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from dnbot.domain.positions import Position
from dnbot.domain.presets import UserSettings
from dnbot.domain.risk import RiskReadings
from dnbot.local.system import LocalSystem
from dnbot.ports import RiskReader
from tests.integration.helpers import Client, Terminal, log_in
from tests.integration.test_tick import RICH_FUNDING_HOURLY, SteadyFunding, _decide, _tick, _wait_for

pytestmark = pytest.mark.xdist_group("moto")


class HealthFactorAt:
    """The venues' readings, with the Asgard health factor set by the test."""

    def __init__(self, inner: RiskReader) -> None:
        self.inner = inner
        self.health_factor: Decimal | None = None

    def readings(self, position: Position) -> RiskReadings:
        read = self.inner.readings(position)
        return read if self.health_factor is None else replace(read, health_factor=self.health_factor)


def _warnings(client: Client, position_id: str) -> list[dict[str, object]]:
    events = client.get("/api/v1/activity?limit=200").json()["events"]
    return [e for e in events if e["kind"] == "risk_warning" and e.get("position_id") == position_id]


def test_a_health_factor_past_its_warning_level_is_said_once_until_it_recovers(
        system: LocalSystem, terminal: Terminal) -> None:
    assert system.runtime is not None
    runtime = system.runtime
    erin = log_in(system, terminal, "erin@example.com")
    assert erin.post("/api/v1/control/start").json()["bot_status"] == "running"
    runtime.override(funding_source=SteadyFunding(system.markets, RICH_FUNDING_HOURLY))
    system.functions.invoke("rates_poller", {})
    _tick(system)
    position_id = str(_wait_for(erin, "open")[0]["position_id"])
    user_id = erin.get("/api/v1/auth/me").json()["user"]["user_id"]
    user = runtime.store.get_user(user_id)
    assert user is not None
    exit_level = UserSettings.create(**(user.settings or {})).exits.min_health_factor

    reader = HealthFactorAt(runtime.risk)
    runtime.override(risk=reader)
    try:
        _decide(system, user_id)
        assert _warnings(erin, position_id) == []  # the venues' own reading: healthy

        reader.health_factor = exit_level * Decimal("1.03")  # past the warning (exit + 5%), short of the exit
        for _ in range(3):
            outcome = _decide(system, user_id)
            assert outcome["closed"] == [] and outcome["rebalanced"] == {}, outcome
        warned = _warnings(erin, position_id)
        assert len(warned) == 1, warned
        asset = erin.get("/api/v1/positions?view=active").json()["positions"][0]["asset"]
        assert str(warned[0]["message"]).startswith(f"Liquidation warning on {asset}: Asgard health factor ")
        assert f"(the bot closes under {exit_level})" in str(warned[0]["message"])
        stored = next(p for p in runtime.store.list_positions(user_id) if p.position_id == position_id)
        assert stored.risk_warned == "health_factor"

        reader.health_factor = exit_level * 2  # recovered
        _decide(system, user_id)
        stored = next(p for p in runtime.store.list_positions(user_id) if p.position_id == position_id)
        assert stored.risk_warned is None and len(_warnings(erin, position_id)) == 1

        reader.health_factor = exit_level * Decimal("1.02")  # a new crossing: a new warning
        _decide(system, user_id)
        assert len(_warnings(erin, position_id)) == 2
        assert erin.get("/api/v1/positions?view=active").json()["positions"][0]["status"] == "open"
    finally:
        runtime.override(risk=reader.inner)
