"""Risk that acts (issue 8) / hold and rebalance (issue 9): a position drifting toward a liquidation is rebalanced
IN PLACE through the production adapters against `dnbot sim`: the strategy worker starts the rebalance workflow
(workflows/definitions.py, rebalance_position_definition) and moto's Step Functions executor runs its steps in
position_steps (services/rebalance.py): the short's reduce-only buy-back on Hyperliquid, then the long's deleverage
(or partial close) on Asgard, both the same SOL; a failed half is compensated and the position closes instead.
Each scenario asserts the invariant from venue truth + ledger (tests/faults/invariant.py) and records its
figure."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from decimal import Decimal
from typing import Any

import httpx
import pytest

from dnbot.adapters.hyperliquid.positions import cloid_for
from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.positions import Position, PositionStatus
from dnbot.domain.presets import UserSettings
from dnbot.domain.risk import RiskReadings, Verdict, assess, joint_view
from dnbot.local.system import LocalSystem
from dnbot.services.tick import FUNDING_HISTORY_HOURS, tick_context
from tests.faults.helpers import SimUser, fault
from tests.integration.helpers import SteadyFunding, Terminal

pytestmark = pytest.mark.xdist_group("moto")

D = Decimal
RICH_FUNDING_HOURLY = D("0.0003")  # the carry stays: no rate-based exit gets in the rebalance's way
EXITS = UserSettings.create().exits


@pytest.fixture(autouse=True)
def _calm_market(system: LocalSystem) -> Iterator[None]:
    yield
    assert system.sim is not None
    httpx.delete(f"{system.sim.base_url}/sim/faults")
    move(system, D(1))


def move(system: LocalSystem, factor: Decimal) -> None:
    """Every venue's SOL price = the recording's x factor (a rally or a crash at Hyperliquid and Asgard alike)."""
    assert system.sim is not None
    reply = httpx.post(f"{system.sim.base_url}/sim/market", json={"sol_price_factor": str(factor)})
    assert reply.status_code == 200, reply.text


class Execution:
    def __init__(self, status: str, output: dict[str, Any], states: list[str]) -> None:
        self.status, self.output, self.states = status, output, states

    def __repr__(self) -> str:
        return f"Execution({self.status}, {self.output}, {self.states})"


class Trader(SimUser):
    def open(self, leverage: str = "2", size_usd: str = "8000") -> Position:
        reply = self.client.post("/api/v1/positions/open", {"asset": "SOL", "protocol": "drift",
                                                            "leverage": leverage, "size_usd": size_usd})
        assert reply.status_code == 202, reply.text
        job = self.client.wait_job(reply.json()["job_id"], timeout=90)
        assert job["status"] == "succeeded", job
        (position,) = [p for p in self.positions() if p.status is PositionStatus.OPEN]
        return position

    def readings(self, position_id: str) -> RiskReadings:
        return self.runtime.risk.readings(self.position(position_id))

    def start_rebalance(self, position_id: str) -> str:
        """What the worker does for a Rebalance decision: start the workflow (its execution name)."""
        readings = self.readings(position_id)
        assert readings.liquidation_distance_at_open is not None
        return self.runtime.workflows.start_rebalance(self.position(position_id), "test",
                                                      readings.liquidation_distance_at_open)

    def rebalance(self, position_id: str) -> Execution:
        return self.wait_execution(self.start_rebalance(position_id))

    def wait_execution(self, name: str, timeout: float = 150) -> Execution:
        arn = self.runtime.settings.rebalance_state_machine_arn.replace(":stateMachine:", ":execution:")
        client = self.runtime.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = client.describe_execution(executionArn=f"{arn}:{name}")
            if described["status"] != "RUNNING":
                history = client.get_execution_history(executionArn=f"{arn}:{name}", maxResults=1000)["events"]
                entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
                return Execution(described["status"], json.loads(described.get("output") or "{}"), entered)
            assert time.monotonic() < deadline, f"execution {name} still running after {timeout} s"
            time.sleep(0.2)

    def wait_closed(self, position_id: str, timeout: float = 120) -> Position:
        """The close a failed rebalance asked for: the fan-out queue's worker starts it, the close workflow runs."""
        deadline = time.monotonic() + timeout
        while (position := self.position(position_id)).status is not PositionStatus.CLOSED:
            assert time.monotonic() < deadline, position
            time.sleep(0.2)
        return position

    def fills(self, position_id: str, step: str) -> list[dict[str, Any]]:
        cloid = cloid_for(position_id, step)
        return [row for row in self.user_fills() if row.get("cloid") == cloid]

    def asgard_updates(self) -> int:
        return sum(int(r.get("updateCount") or 0) for r in self.asgard_records())


_emails = iter(range(1000))


@pytest.fixture
def trader(system: LocalSystem, terminal: Terminal) -> Trader:
    return Trader(system, terminal, f"rebalance{next(_emails)}@example.com")


def distance(readings: RiskReadings) -> Decimal:
    found = joint_view(readings).distance
    assert found is not None
    return found


def _rally_until_rebalance(trader: Trader, position_id: str) -> RiskReadings:
    """Raise SOL step by step until the short's distance calls for a rebalance (not a close)."""
    for factor in (D("1.2"), D("1.3"), D("1.4"), D("1.5"), D("1.6"), D("1.7")):
        move(trader.system, factor)
        readings = trader.readings(position_id)
        if assess(readings, EXITS).verdict is Verdict.REBALANCE:
            return readings
        assert assess(readings, EXITS).verdict is Verdict.HOLD, (readings, trader.position(position_id))
    raise AssertionError(f"no rebalance verdict up to +70%: {trader.readings(position_id)}")


def _crash_until_rebalance(trader: Trader, position_id: str) -> RiskReadings:
    """Lower SOL step by step until the long's distance calls for a rebalance (not a close)."""
    for factor in (D("0.9"), D("0.85"), D("0.8"), D("0.75"), D("0.7")):
        move(trader.system, factor)
        readings = trader.readings(position_id)
        if assess(readings, EXITS).verdict is Verdict.REBALANCE:
            return readings
    raise AssertionError(f"no rebalance verdict down to -30%: {trader.readings(position_id)}")


def _tick_user(system: LocalSystem, trader: Trader, position: Position) -> dict[str, Any]:
    """The worker's message for this user, as the tick sends it, with the carry held rich and Asgard offering this
    pair only (no rate-based exit or switch gets in the way of the risk decision)."""
    runtime = trader.runtime
    original = runtime.funding_source
    runtime.override(funding_source=SteadyFunding(runtime.hyperliquid, RICH_FUNDING_HOURLY))
    try:
        system.functions.invoke("rates_poller", {})  # a fresh snapshot at the moved prices
        assert trader.client.post("/api/v1/control/start").json()["bot_status"] == "running"
        snapshot = runtime.store.latest_snapshot()
        assert snapshot is not None
        snapshot = replace(snapshot, markets=type(snapshot.markets)(
            m for m in snapshot.markets if m.asset is position.asset and m.protocol is position.protocol))
        runtime.store.put_snapshot(snapshot)
        context = tick_context(KillSwitch.OFF, snapshot,
                               runtime.funding_source.funding_history_hourly(FUNDING_HISTORY_HOURS),
                               runtime.clock.now())
        return asdict(runtime.tick_worker.handle({"kind": "user", "user_id": trader.user_id, "context": context}))
    finally:
        runtime.override(funding_source=original)
        trader.client.post("/api/v1/control/stop")



def test_rally_drifts_the_short_toward_liquidation_the_tick_rebalances_in_place(system: LocalSystem,
                                                                                trader: Trader) -> None:
    position = trader.open()
    before = _rally_until_rebalance(trader, position.position_id)
    assert joint_view(before).first == "short"
    liquidation_before = before.short_liquidation_price
    outcome = _tick_user(system, trader, position)
    name = f"rebalance-{position.position_id}-1"
    assert outcome["rebalanced"] == {position.position_id: name}, repr(outcome)  # the worker only starts it
    assert outcome["closed"] == []
    execution = trader.wait_execution(name)
    assert execution.status == "SUCCEEDED" and execution.output["outcome"] == "rebalanced", execution
    assert execution.states == ["RebalancePreflight", "Started", "RebalanceShort", "RebalanceLong",
                                "MarkRebalanced", "BridgeAfterShrink", "Rebalanced"], execution
    after_position = trader.position(position.position_id)
    assert after_position.status is PositionStatus.OPEN and after_position.rebalancing is None
    assert after_position.rebalances == 1
    assert after_position.short_leg is not None and position.short_leg is not None
    assert after_position.short_leg.size < position.short_leg.size
    after = trader.readings(position.position_id)
    assert after.short_liquidation_price is not None and liquidation_before is not None
    assert after.short_liquidation_price > liquidation_before
    assert before.liquidation_distance_at_open is not None
    assert distance(after) >= before.liquidation_distance_at_open * EXITS.rebalance_share  # no longer triggers
    assert assess(after, EXITS).verdict is Verdict.HOLD
    report = trader.invariant("rebalance after a rally (short toward liquidation), through the tick's workflow")
    assert report.naked_legs == 0 and report.duplicate_orders == 0
    assert len(trader.fills(position.position_id, "rebalance-1")) >= 1 and trader.asgard_updates() == 1
    print(f"rebalance after a rally: distance {distance(before):.1%} -> {distance(after):.1%} "
          f"(open {before.liquidation_distance_at_open:.1%}), short {position.short_leg.size} -> "
          f"{after_position.short_leg.size} SOL, liquidation ${liquidation_before} -> "
          f"${after.short_liquidation_price}")


def test_crash_drifts_the_long_toward_liquidation_the_deleverage_restores_it(system: LocalSystem,
                                                                            trader: Trader) -> None:
    position = trader.open(leverage="3")
    readings = _crash_until_rebalance(trader, position.position_id)
    assert joint_view(readings).first == "long"
    execution = trader.rebalance(position.position_id)
    assert execution.status == "SUCCEEDED" and execution.output["outcome"] == "rebalanced", execution
    after = trader.readings(position.position_id)
    assert after.health_factor is not None and readings.health_factor is not None
    assert after.health_factor > readings.health_factor
    assert readings.liquidation_distance_at_open is not None
    assert distance(after) >= readings.liquidation_distance_at_open * EXITS.rebalance_share
    report = trader.invariant("rebalance after a crash (long toward liquidation): Asgard deleverage")
    assert report.naked_legs == 0
    print(f"rebalance after a crash: health factor {readings.health_factor} -> {after.health_factor}, "
          f"distance {distance(readings):.1%} -> {distance(after):.1%}")


def test_a_paused_bot_s_position_is_still_rebalanced_by_the_tick(system: LocalSystem, trader: Trader) -> None:
    """Pausing the bot promises 'open positions are kept and protected': the whole tick (handler, fan-out queue,
    worker) visits a paused user's open position through its page of open positions and starts the rebalance
    a crash calls for, as for a running bot; it opens nothing for them."""
    position = trader.open(leverage="3")
    assert trader.client.post("/api/v1/control/pause").json()["bot_status"] == "paused"
    readings = _crash_until_rebalance(trader, position.position_id)
    assert system.queues is not None
    failed = system.queues.failed
    system.functions.invoke("rates_poller", {})
    report = system.functions.invoke("strategy_tick", {})
    assert report["enqueued"] == 2 and report["errors"] == {}, report  # the users' page and the positions' page
    system.queues.wait_idle()
    assert system.queues.failed == failed
    execution = trader.wait_execution(f"rebalance-{position.position_id}-1")
    assert execution.status == "SUCCEEDED" and execution.output["outcome"] == "rebalanced", execution
    after = trader.readings(position.position_id)
    assert readings.liquidation_distance_at_open is not None
    assert distance(after) >= readings.liquidation_distance_at_open * EXITS.rebalance_share
    live = [p for p in trader.positions() if p.status.is_live]
    assert [p.position_id for p in live] == [position.position_id]  # nothing new opened while paused
    report = trader.invariant("a paused bot's position rebalanced by the tick after a crash")
    assert report.naked_legs == 0 and report.duplicate_orders == 0


def test_asgard_5xx_on_the_second_half_restores_the_short_then_closes(system: LocalSystem, trader: Trader) -> None:
    """Asgard cannot update the long (5xx on its builders, retried, then given up; its closes still work): the
    compensation sells the short back, so the legs are as before, and the position closes instead (the risk is not
    left standing): the close the workflow asks the workers for."""
    position = trader.open()
    _rally_until_rebalance(trader, position.position_id)
    fault(system, "asgard", "position/partial-close", "5xx", times=20)
    fault(system, "asgard", "position/deleverage", "5xx", times=20)
    execution = trader.rebalance(position.position_id)
    assert execution.status == "FAILED", execution
    assert execution.states[-4:] == ["RebalanceRestore", "Restored", "CloseAfterFailure", "RebalanceFailed"], \
        execution
    bought = sum(D(f["sz"]) for f in trader.fills(position.position_id, "rebalance-1"))
    sold = sum(D(f["sz"]) for f in trader.fills(position.position_id, "restore-1"))
    assert bought > 0 and sold == bought and trader.asgard_updates() == 0
    closed = trader.wait_closed(position.position_id)
    assert closed.rebalances == 1 and closed.rebalancing is None
    assert closed.short_leg == position.short_leg and closed.long_leg == position.long_leg  # legs as before
    assert closed.close_reason is not None and closed.close_reason.startswith("rebalance failed"), closed
    assert "the short was restored" in closed.close_reason
    report = trader.invariant("rebalance: Asgard 5xx on the long's half, the short restored, then closed")
    assert report.naked_legs == 0 and report.duplicate_orders == 0 and report.live_positions == 0


def test_a_rebalance_asgard_refuses_falls_back_to_a_close_through_the_tick(system: LocalSystem,
                                                                           trader: Trader) -> None:
    """The same refusal, from the tick: the worker starts the rebalance and returns; the workflow restores the
    short and asks for the close; a worker starts it, as it did before rebalances."""
    position = trader.open()
    _rally_until_rebalance(trader, position.position_id)
    fault(system, "asgard", "position/partial-close", "5xx", times=20)
    fault(system, "asgard", "position/deleverage", "5xx", times=20)
    outcome = _tick_user(system, trader, position)
    name = f"rebalance-{position.position_id}-1"
    assert outcome["rebalanced"] == {position.position_id: name} and outcome["closed"] == [], outcome
    assert trader.wait_execution(name).status == "FAILED"
    closed = trader.wait_closed(position.position_id)
    assert closed.close_reason is not None and closed.close_reason.startswith("rebalance failed"), closed
    report = trader.invariant("rebalance refused by Asgard through the tick: short restored, then closed")
    assert report.naked_legs == 0 and report.duplicate_orders == 0 and report.live_positions == 0


def test_hyperliquid_reject_on_the_buy_back_changes_nothing_then_closes(system: LocalSystem,
                                                                        trader: Trader) -> None:
    position = trader.open()
    _rally_until_rebalance(trader, position.position_id)
    fault(system, "hyperliquid", "order", "reject", times=1, message="Insufficient margin to place order.")
    execution = trader.rebalance(position.position_id)
    assert execution.status == "FAILED", execution
    assert "RebalanceLong" not in execution.states  # the long's half never ran
    assert trader.fills(position.position_id, "rebalance-1") == [] and trader.asgard_updates() == 0
    assert trader.fills(position.position_id, "restore-1") == []  # nothing bought, nothing sold back
    closed = trader.wait_closed(position.position_id)
    assert closed.short_leg == position.short_leg and closed.rebalancing is None
    assert closed.close_reason is not None and "Insufficient margin" in closed.close_reason, closed
    report = trader.invariant("rebalance: Hyperliquid refuses the buy-back, nothing moves, then closed")
    assert report.naked_legs == 0


class LambdaDied(Exception):
    """The steps' Lambda stopped mid-rebalance (timeout, out of memory)."""


def test_a_retried_rebalance_does_not_trade_twice(system: LocalSystem, trader: Trader) -> None:
    """Asgard's answer to the deleverage is lost (it landed), then the ledger write crashes: the state machine
    retries the long's step (which finds the update landed) and the ledger step; a duplicate start is the same
    execution, and the trading steps replayed afterwards trade nothing: one buy-back, one Asgard update."""
    runtime = trader.runtime
    position = trader.open()
    _rally_until_rebalance(trader, position.position_id)
    fault(system, "asgard", "submit-position-update-tx", "lose_response")
    store = runtime.store
    real_save = store.save_position
    crashes = {"left": 1}

    def crash_on_the_final_write(saved: Position, **kwargs: Any) -> Position:
        if saved.rebalancing is None and saved.rebalances == 1 and crashes["left"]:
            crashes["left"] -= 1
            raise LambdaDied("between the venues' answers and the ledger write")
        return real_save(saved, **kwargs)

    store.save_position = crash_on_the_final_write  # type: ignore[method-assign,assignment]
    try:
        name = trader.start_rebalance(position.position_id)
        assert trader.start_rebalance(position.position_id) == name  # a redelivered message: the same execution
        execution = trader.wait_execution(name)
    finally:
        store.save_position = real_save  # type: ignore[method-assign]
    assert crashes["left"] == 0
    assert execution.status == "SUCCEEDED" and execution.output["outcome"] == "rebalanced", execution
    assert execution.states.count("MarkRebalanced") == 1 and "RebalanceRestore" not in execution.states
    done = trader.position(position.position_id)
    assert done.rebalancing is None and done.rebalances == 1 and done.status is PositionStatus.OPEN
    # a worker that read the position before rebalance 1 was recorded starts it again after it ended: another run
    # of number 1, whose preflight finds it done
    late = trader.wait_execution(runtime.workflows.start_rebalance(replace(done, rebalances=0), "late", D("0.3")))
    assert late.status == "SUCCEEDED" and late.output["outcome"] == "done", late
    state = {"user_id": trader.user_id, "position_id": position.position_id, "number": 1, "reason": "replay",
             "target_distance": "0.3"}
    for step in ("rebalance_short", "rebalance_long"):  # a late retry of a trading step: no intent, no trade
        with pytest.raises(Exception, match="not in flight"):
            runtime.steps.run(step, dict(state))
    assert runtime.steps.run("rebalance_preflight", dict(state))["outcome"] == "done"
    assert len(trader.fills(position.position_id, "rebalance-1")) == 1
    assert trader.fills(position.position_id, "restore-1") == []
    assert trader.asgard_updates() == 1
    report = trader.invariant("rebalance: answer lost + crash before the ledger write, retried by the workflow")
    assert report.naked_legs == 0 and report.duplicate_orders == 0
