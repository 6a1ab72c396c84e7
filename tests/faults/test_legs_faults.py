"""Two legs that cannot come apart (issue 8, part A), where a scenario needs the running system's insides: driven
through the `dnbot local` API against `dnbot sim` and the PRODUCTION adapters, then read through the runtime (the
funding split by the short venue's adapter, the risk readings from the venues). Each scenario settles (no workflow
running for its user), then asserts the invariant from venue truth + ledger (tests/faults/invariant.py) and records
its figure: naked legs at rest, duplicate orders, unhedged window. The faults the simulator injects around the legs
(refused, lost and unanswered orders, partial fills, Privy or Asgard down) run through the product, HTTP only:
tests/faults/test_product_faults.py."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from dnbot.domain.assets import Asset
from dnbot.domain.positions import PositionStatus
from dnbot.domain.presets import UserSettings
from dnbot.domain.risk import ExitReason, Verdict, assess
from dnbot.local.controls import CONTROL_HEADER
from dnbot.local.system import LocalSystem
from tests.faults.helpers import SimUser
from tests.faults.invariant import venue_truth
from tests.integration.helpers import Terminal, log_in

pytestmark = pytest.mark.xdist_group("moto")

D = Decimal


class Trader(SimUser):
    """One user of the running system: opens and closes through the API, the simulator's clock moved."""

    def open(self, asset: str = "SOL", protocol: str = "drift", leverage: str = "2", size_usd: str = "1000",
             timeout: float = 90) -> dict[str, Any]:
        reply = self.client.post("/api/v1/positions/open", {"asset": asset, "protocol": protocol,
                                                            "leverage": leverage, "size_usd": size_usd})
        assert reply.status_code == 202, reply.text
        return self.client.wait_job(reply.json()["job_id"], timeout=timeout)

    def close(self, position_id: str, timeout: float = 90) -> dict[str, Any]:
        reply = self.client.post(f"/api/v1/positions/{position_id}/close")
        assert reply.status_code == 202, reply.text
        return self.client.wait_job(reply.json()["job_id"], timeout=timeout)

    def advance_clock(self, **amount: int) -> None:
        """Move the simulator's clock (funding hours, staleness); the session idles out with it: log in again."""
        assert httpx.post(f"{self.sim}/sim/clock", json=amount).status_code == 200
        self.client = log_in(self.system, self.terminal, self.email)


_emails = iter(range(1000))


@pytest.fixture
def trader(system: LocalSystem, terminal: Terminal) -> Trader:
    return Trader(system, terminal, f"legs{next(_emails)}@example.com")


def stage_names(job: dict[str, Any]) -> list[str]:
    return [stage["name"] for stage in job["stages"]]


def asgard_sim(system: LocalSystem) -> Any:
    assert system.sim is not None
    return system.sim.app.state.venues["asgard"].app.state.asgard


def fresh_rates(system: LocalSystem) -> None:
    system.functions.invoke("rates_poller", {})


# --- closes --------------------------------------------------------------------------------------------------


def test_two_positions_of_one_user_close_apart(system: LocalSystem, trader: Trader) -> None:
    assert system.sim is not None and system.runtime is not None
    first = trader.open("SOL", "drift", "3", "1200")
    second = trader.open("jitoSOL", "kamino", "2", "1000")
    assert first["status"] == "succeeded" and second["status"] == "succeeded", (first, second)
    trader.invariant("two positions of one user (both open)")
    trader.advance_clock(advance_hours=2)  # two funding payments on both
    fresh_rates(system)

    closing = trader.close(first["position_id"])
    assert closing["status"] == "succeeded", closing
    other = trader.position(second["position_id"])
    assert other.status is PositionStatus.OPEN and other.short_leg is not None
    user = system.runtime.store.get_user(trader.user_id)
    assert user is not None and user.evm_address
    truth = venue_truth(trader.sim, user)
    assert truth.short_of(second["position_id"]) == other.short_leg.size  # the other's short intact, exact
    assert -truth.account_szi == other.short_leg.size
    report = trader.invariant("two positions of one user, one closed")
    assert report.naked_legs == 0 and report.live_positions == 1
    reconciled = httpx.post(f"{system.url}/local/schedules/reconciler/run", headers={CONTROL_HEADER: "1"},
                            timeout=120)
    assert reconciled.status_code == 200, reconciled.text
    report = trader.invariant("two positions of one user, one closed, one reconciler cycle")  # it moved nothing
    assert report.live_positions == 1 and venue_truth(trader.sim, user).short_of(second["position_id"]) == (
        other.short_leg.size)

    # funding: the venue paid the account; the two positions' shares add up to it
    since = datetime.fromtimestamp(0, tz=UTC)
    short = system.runtime.short_venue
    shares = short.funding_usd(trader.user_id, first["position_id"], since) + short.funding_usd(
        trader.user_id, second["position_id"], since)
    paid = system.runtime.hyperliquid.user_funding_usd(user.evm_address, 0)
    assert paid != 0 and shares == paid
    closed = trader.position(first["position_id"])
    assert closed.realized_pnl_usd is not None
    assert trader.close(second["position_id"])["status"] == "succeeded"
    trader.invariant("two positions of one user, both closed")


# --- risk ------------------------------------------------------------------------------------------------------


def test_lst_depeg_reads_from_asgard_and_closes(system: LocalSystem, trader: Trader,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert system.runtime is not None
    job = trader.open("jitoSOL", "kamino", "2", "1000")
    assert job["status"] == "succeeded", job
    position = trader.position(job["position_id"])
    before = system.runtime.risk.readings(position)
    assert before.lst_depeg is not None and before.lst_depeg < D("0.002")

    venue = asgard_sim(system)
    rate = venue.exchange_rate
    monkeypatch.setattr(venue, "exchange_rate", lambda asset, at: rate(asset, at) * (
        D("0.97") if asset is Asset.JITOSOL else D(1)))  # jitoSOL trades 3 % under its SOL value
    readings = system.runtime.risk.readings(position)
    assert readings.lst_depeg is not None and readings.lst_depeg > D("0.025")
    verdict = assess(readings, UserSettings.create().exits)
    assert verdict.verdict is Verdict.CLOSE and verdict.reason is ExitReason.DEPEG, verdict
    closing = trader.close(job["position_id"])
    assert closing["status"] == "succeeded", closing
    report = trader.invariant("LST depeg (3 %)")
    assert report.naked_legs == 0


def test_venue_price_divergence_refuses_opens_and_closes(system: LocalSystem, trader: Trader,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert system.runtime is not None
    job = trader.open(size_usd="800")
    assert job["status"] == "succeeded", job
    venue = asgard_sim(system)
    rate = venue.exchange_rate
    monkeypatch.setattr(venue, "exchange_rate", lambda asset, at: rate(asset, at) * D("1.02"))  # Asgard 2 % up
    fresh_rates(system)
    refused = trader.open(size_usd="800")
    assert refused["status"] == "failed" and "open_long" not in stage_names(refused), refused
    readings = system.runtime.risk.readings(trader.position(job["position_id"]))
    verdict = assess(readings, UserSettings.create().exits)
    assert verdict.verdict is Verdict.CLOSE and verdict.reason is ExitReason.DIVERGENCE, verdict
    assert trader.close(job["position_id"])["status"] == "succeeded"
    monkeypatch.undo()
    fresh_rates(system)
    report = trader.invariant("venue price divergence (2 %)")
    assert report.naked_legs == 0 and report.live_positions == 0


def test_stale_rates_refuse_opens_but_not_risk_readings(system: LocalSystem, trader: Trader) -> None:
    assert system.sim is not None and system.runtime is not None
    job = trader.open(size_usd="800")
    assert job["status"] == "succeeded", job
    stale_for = system.runtime.settings.rates_stale_after_seconds + 60
    trader.advance_clock(advance_seconds=stale_for)
    refused = trader.open(size_usd="800")
    assert refused["status"] == "failed" and "old" in refused["error"], refused
    assert "open_long" not in stage_names(refused)
    readings = system.runtime.risk.readings(trader.position(job["position_id"]))  # from the venues, not the rates
    assert readings.health_factor is not None and readings.margin_ratio is not None
    assert readings.liquidation_distance_at_open is not None and readings.equity_usd is not None
    assert readings.peak_equity_usd is not None and readings.lst_depeg == 0
    # a healthy fresh position reads as one: no false drawdown, rebalance or divergence exit
    assert assess(readings, UserSettings.create().exits).verdict is Verdict.HOLD, readings
    assert trader.close(job["position_id"])["status"] == "succeeded"
    fresh_rates(system)
    report = trader.invariant("stale rates")
    assert report.naked_legs == 0 and report.live_positions == 0
