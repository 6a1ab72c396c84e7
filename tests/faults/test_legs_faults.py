"""Two legs that cannot come apart (issue 8, part A): each fault the simulator can inject around the legs, driven
through the running `dnbot local` API against `dnbot sim` and the PRODUCTION adapters. Each scenario settles (no
workflow running for its user), then asserts the invariant from venue truth + ledger (tests/faults/invariant.py)
and records its figure: naked legs at rest, duplicate orders, unhedged window."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from dnbot.domain.assets import Asset
from dnbot.domain.positions import PositionStatus
from dnbot.domain.presets import UserSettings
from dnbot.domain.risk import ExitReason, Verdict, assess
from dnbot.local.system import LocalSystem
from tests.faults.helpers import SimUser, fault
from tests.faults.invariant import venue_truth
from tests.integration.helpers import Terminal, log_in

pytestmark = pytest.mark.xdist_group("moto")

D = Decimal


@pytest.fixture(autouse=True)
def _no_fault_outlives_its_test(system: LocalSystem) -> Iterator[None]:
    yield
    assert system.sim is not None
    httpx.delete(f"{system.sim.base_url}/sim/faults")


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


def clear_faults(system: LocalSystem) -> None:
    assert system.sim is not None
    httpx.delete(f"{system.sim.base_url}/sim/faults")


def stage_names(job: dict[str, Any]) -> list[str]:
    return [stage["name"] for stage in job["stages"]]


def asgard_sim(system: LocalSystem) -> Any:
    assert system.sim is not None
    return system.sim.app.state.venues["asgard"].app.state.asgard


def fresh_rates(system: LocalSystem) -> None:
    system.functions.invoke("rates_poller", {})


# --- opens ---------------------------------------------------------------------------------------------------


def test_short_refused_after_the_long_unwinds_the_long_first(system: LocalSystem, trader: Trader) -> None:
    fault(system, "hyperliquid", "order", "reject", times=20, message="Insufficient margin to place order.")
    job = trader.open()
    clear_faults(system)
    assert job["status"] == "failed" and "Insufficient margin" in job["error"]
    assert "unwind" in stage_names(job)
    (position,) = trader.positions()
    assert position.status is PositionStatus.FAILED and position.long_leg is not None
    report = trader.invariant("short refused after the long")
    assert report.naked_legs == 0 and report.duplicate_orders == 0
    assert report.unhedged_window_seconds > 0  # the long's whole (short) life: it was unwound at once
    assert report.unhedged_window_seconds < 60


def test_asgard_submit_answer_lost_is_adopted_not_doubled(system: LocalSystem, trader: Trader) -> None:
    fault(system, "asgard", "submit-create-position-tx", "lose_response")
    job = trader.open()
    assert job["status"] == "succeeded", job  # found by its signature among the wallet's positions: adopted
    report = trader.invariant("Asgard submit answer lost")
    assert report.duplicate_orders == 0 and report.live_positions == 1
    closing = trader.close(job["position_id"])
    assert closing["status"] == "succeeded", closing
    trader.invariant("Asgard submit answer lost (then closed)")


def test_asgard_submit_unanswered_is_never_failed_while_it_may_land(system: LocalSystem, trader: Trader) -> None:
    """A 502 after the signed transaction was sent: not listed at Asgard, unknown on Solana, its blockhash still
    valid. The unwind waits (LongMayStillLand, retried) instead of marking the position failed; once the
    blockhash has expired the long can no longer land and the open fails with nothing at the venues."""
    assert system.sim is not None
    fault(system, "asgard", "submit-create-position-tx", "5xx")
    reply = trader.client.post("/api/v1/positions/open", {"asset": "SOL", "protocol": "drift", "leverage": "2",
                                                           "size_usd": "800"})
    job_id = reply.json()["job_id"]
    deadline = time.monotonic() + 60
    job = trader.client.get(f"/api/v1/positions/jobs/{job_id}").json()
    while "unwind" not in stage_names(job):
        assert time.monotonic() < deadline, f"the open did not reach its unwind within 60 s: {job}"
        time.sleep(0.05)
        job = trader.client.get(f"/api/v1/positions/jobs/{job_id}").json()
    assert job["status"] == "running", job  # the unwind waits on the long that may still land
    (position,) = trader.positions()
    assert position.status is PositionStatus.PENDING  # not failed: the long may still land
    trader.advance_clock(advance_seconds=90)  # its blockhash expires
    job = trader.client.wait_job(job_id, timeout=90)
    fresh_rates(system)
    assert job["status"] == "failed", job
    assert trader.position(job["position_id"]).status is PositionStatus.FAILED
    report = trader.invariant("Asgard submit unanswered (5xx after sending)")
    assert report.naked_legs == 0 and report.duplicate_orders == 0


def test_hyperliquid_order_answer_lost_is_adopted_by_its_cloid(system: LocalSystem, trader: Trader) -> None:
    fault(system, "hyperliquid", "order", "lose_response")
    job = trader.open()
    assert job["status"] == "succeeded", job  # the fill is found by the order's cloid: no second short
    report = trader.invariant("Hyperliquid order answer lost")
    assert report.duplicate_orders == 0 and report.live_positions == 1
    fault(system, "asgard", "submit-close-position-tx", "lose_response")
    closing = trader.close(job["position_id"])
    assert closing["status"] == "succeeded", closing  # the close landed; found by its signature
    report = trader.invariant("Asgard close answer lost")
    assert report.naked_legs == 0 and report.live_positions == 0


def test_partial_fill_is_topped_up_to_the_long(system: LocalSystem, trader: Trader) -> None:
    fault(system, "hyperliquid", "order", "partial_fill", fill_fraction="0.4")
    job = trader.open(size_usd="1200")
    assert job["status"] == "succeeded", job
    assert "rebalance_short" in stage_names(job)
    report = trader.invariant("partial fill at Hyperliquid")
    assert report.naked_legs == 0 and report.duplicate_orders == 0
    assert trader.close(job["position_id"])["status"] == "succeeded"
    trader.invariant("partial fill at Hyperliquid (then closed)")


def test_privy_signing_down_before_the_first_leg(system: LocalSystem, trader: Trader) -> None:
    fault(system, "privy", "signTransaction", "5xx", times=100)
    job = trader.open()
    clear_faults(system)
    assert job["status"] == "failed", job
    (position,) = trader.positions()
    assert position.long_leg is None and position.short_leg is None
    report = trader.invariant("Privy signing down before the first leg")
    assert report.naked_legs == 0 and report.unhedged_window_seconds == 0


def test_privy_signing_down_after_the_first_leg(system: LocalSystem, trader: Trader) -> None:
    """The long is signed (Solana) and lands; the short needs the user's EVM wallet to approve the agent, and
    Privy's EIP-712 signing is down: the open unwinds the long (its Solana signing works)."""
    fault(system, "privy", "eth_signTypedData_v4", "5xx", times=100)
    job = trader.open()
    clear_faults(system)
    assert job["status"] == "failed", job
    (position,) = trader.positions()
    assert position.long_leg is not None and position.short_leg is None
    report = trader.invariant("Privy signing down after the first leg")
    assert report.naked_legs == 0


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


def test_asgard_down_during_a_close_keeps_the_hedge(system: LocalSystem, trader: Trader) -> None:
    job = trader.open(size_usd="1000")
    assert job["status"] == "succeeded", job
    fault(system, "asgard", "*", "5xx", times=500)
    closing = trader.close(job["position_id"], timeout=120)
    assert closing["status"] == "failed", closing
    assert "close_short" not in stage_names(closing)  # the long goes first; the short was never touched
    position = trader.position(job["position_id"])
    assert position.status is PositionStatus.NEEDS_ATTENTION
    assert position.failure is not None and position.failure.startswith(
        "close incomplete: the Asgard long could not be closed; both legs are still open and hedged: "), position
    # while Asgard is still down: the long and its short both rest, hedged, exactly as the ledger says
    report = trader.invariant("Asgard down during a close (fault persisting)")
    assert report.naked_legs == 0 and report.live_positions == 1
    clear_faults(system)
    trader.invariant("Asgard down during a close (fault cleared)")


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
