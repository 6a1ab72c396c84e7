"""The in-place rebalance (services/rebalance.py) run as its workflow does: `run_workflow`
(tests/unit/workflows/walk.py) walks the rebalance state machine's definition over PositionRebalancer.steps() on
in-memory venues, feeding each step the state the previous one returned, retrying what a Retry names and sending
the rest to its Catch. The
paths the simulator cannot reach in one scenario (the long's half AND the short's restore refused; a lost answer),
and the bookkeeping (ledger legs, the cash it moved, one activity event). tests/faults/test_rebalance_inplace.py
runs the same machine in moto against `dnbot sim`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Leg, Position, PositionStatus
from dnbot.ports import (
    AmbiguousVenueError,
    LongState,
    ShortFill,
    ShortMargin,
    StepFill,
    TransientVenueError,
    VenueRejected,
)
from dnbot.services.rebalance import PositionRebalancer
from tests.unit.fakes import NOW, Clock, Ledger
from tests.unit.workflows.walk import Execution, run_workflow

D = Decimal
LT = D("0.85")


class Venues:
    """A 2x SOL long (10 SOL, $500 debt at $100) and its 10 SOL short on a $500 cross account, at `price`."""

    def __init__(self, price: Decimal) -> None:
        self.price = price
        self.long_size, self.debt, self.updates = D(10), D(500), 0
        self.short, self.account_value = D(10), D(500) - D(10) * (price - 100)
        self.steps: dict[str, StepFill] = {}
        self.refuse_long: Exception | None = None
        self.refuse_steps: dict[str, Exception] = {}
        # a call named here ("long", or a short's step) trades, then its answer is lost once (AmbiguousVenueError)
        self.lose_answers: set[str] = set()
        self.on_lost: Callable[[], None] | None = None  # called when an answer is lost (what the ledger says then)

    # LongDeleverager
    def long_state(self, user_id: str, position_id: str) -> LongState | None:
        return LongState(self.long_size, self.long_size * self.price, self.debt, LT, self.updates)

    def shrink_long(self, user_id: str, position_id: str, *, target_leverage: Decimal,
                    close_percentage: Decimal | None, updates_before: int) -> LongState:
        if self.updates <= updates_before:
            if self.refuse_long is not None:
                raise self.refuse_long
            equity = self.long_size * self.price - self.debt
            if close_percentage is None:
                self.long_size, self.debt = equity * target_leverage / self.price, equity * (target_leverage - 1)
            else:
                keep = 1 - close_percentage / 100
                self.long_size, self.debt = self.long_size * keep, self.debt * keep
            self.updates += 1
            self._lose_answer("long")
        state = self.long_state(user_id, position_id)
        assert state is not None
        return state

    # ShortResizer
    def short_margin(self, user_id: str) -> ShortMargin:
        m = D("0.025")
        liquidation = (self.account_value + self.short * self.price) / (self.short * (1 + m))
        return ShortMargin(self.account_value, self.short, self.price, liquidation)

    def find_short(self, user_id: str, position_id: str) -> ShortFill | None:
        return ShortFill("open", self.short, D(100), D(0)) if self.short > 0 else None

    def step_filled(self, user_id: str, position_id: str, step: str) -> StepFill:
        return self.steps.get(step, StepFill(D(0), D(0)))

    def resize_short(self, user_id: str, position_id: str, change_sol: Decimal, step: str) -> StepFill:
        if step not in self.steps:
            if step in self.refuse_steps:
                raise self.refuse_steps[step]
            self.short += change_sol
            pnl = change_sol * (self.price - 100) if change_sol < 0 else D(0)  # a short bought back: entry - price
            self.steps[step] = StepFill(abs(change_sol), pnl - abs(change_sol) * self.price * D("0.00045"))
            self._lose_answer(step)
        return self.steps[step]

    def _lose_answer(self, call: str) -> None:
        if call in self.lose_answers:
            self.lose_answers.discard(call)
            if self.on_lost is not None:
                self.on_lost()
            raise AmbiguousVenueError(f"{call}: sent, no answer")


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.alerts: list[tuple[str, str]] = []

    def record(self, user_id: str, kind: str, message: str, position_id: str | None = None, **detail: Any) -> None:
        self.events.append((kind, message))

    def alert(self, kind: str, message: str, *, user_id: str | None = None, position_id: str | None = None,
              detail: dict[str, Any] | None = None) -> None:
        self.alerts.append((kind, message))


def opened() -> Position:
    return Position("p1", "u1", Asset.SOL, Protocol.DRIFT, D(2), D(1000), PositionStatus.OPEN, NOW, NOW,
                    long_leg=Leg("asgard", D(10), D(100), D(1000), D(1), "pda"),
                    short_leg=Leg("hyperliquid", D(10), D(100), D(1000), D("0.45"), "open"))


START = ["RebalancePreflight", "Started"]
TRADED = [*START, "RebalanceShort", "RebalanceLong"]
SHRUNK = ["BridgeAfterShrink", "Rebalanced"]  # a shrink (method "shrink") ends there; to_short bridges on


class Queue:
    """The fan-out queue: the close a failed rebalance asks the strategy worker for."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_batch(self, messages: list[dict[str, Any]]) -> None:
        self.sent.extend(messages)


class Workflow:
    """Position p1 (opened()) on in-memory venues at `price`, and the rebalancer's steps as position_steps runs
    them (the close a failed rebalance replaces goes to `queue`)."""

    def __init__(self, price: Decimal) -> None:
        self.ledger, self.venues, self.log, self.queue = Ledger(opened()), Venues(price), Log(), Queue()
        self.steps = PositionRebalancer(self.ledger, self.venues, self.venues, Clock(), activity=self.log,
                                        alerts=self.log, closes=self.queue).steps()

    def run(self, number: int = 1) -> Execution:
        """One execution `rebalance-p1-<number>`, with the input the strategy worker starts it with."""
        return run_workflow("rebalance_position", self.steps, {
            "user_id": "u1", "position_id": "p1", "number": number, "reason": "distance", "target_distance": "0.3"})


def test_a_crash_rebalance_deleverages_and_the_ledger_takes_the_venues_sizes() -> None:
    w = Workflow(D(70))
    run = w.run()
    assert run.status == "SUCCEEDED" and run.state["outcome"] == "rebalanced", run
    assert run.entered == [*TRADED, "MarkRebalanced", *SHRUNK] and run.errors == []
    reduce_sol = D(run.state["bought_sol"])
    position = w.ledger.items["p1"]
    assert reduce_sol > 0 and position.rebalancing is None and position.rebalances == 1
    assert position.short_leg is not None and position.long_leg is not None
    assert position.short_leg.size == w.venues.short == D(10) - reduce_sol
    assert position.long_leg.size == w.venues.long_size
    assert abs(w.venues.long_size - w.venues.short) < D("0.01")  # the legs stay equal
    # the buy-back realized the short's gain (SOL fell from its $100 entry) after its fee
    short = w.venues.steps["rebalance-1"]
    assert short.realized_usd == reduce_sol * 30 - reduce_sol * 70 * D("0.00045")
    assert w.venues.debt < 500 and position.rebalance_cash_usd == short.realized_usd.quantize(D("0.01")) > 0
    # the notional per leg the dashboard shows and the exits price a round trip on follows the shrunk legs
    assert position.target_notional_usd == position.short_leg.notional_usd < D(1000)
    assert [kind for kind, _ in w.log.events] == ["position_rebalanced"] and w.log.alerts == []
    assert w.queue.sent == []


def test_a_rally_partially_closes_the_long_and_keeps_what_it_paid_out() -> None:
    w = Workflow(D(140))
    run = w.run()
    assert run.status == "SUCCEEDED" and run.state["outcome"] == "rebalanced", run
    position = w.ledger.items["p1"]
    assert position.rebalancing is None and w.venues.updates == 1
    # the buy-back realized the short's loss; the partial close paid the long's share of equity out
    assert position.rebalance_cash_usd > 0
    assert position.rebalance_collateral_usd == (D(1000) - position.long_leg.notional_usd) / 2  # type: ignore[union-attr]


def test_the_long_refused_and_the_restore_refused_goes_to_needs_attention_long_never_smaller() -> None:
    """RebalanceLong's VenueRejected is caught to RebalanceRestore, whose refused sale (RestoreFailed) is caught to
    RebalanceNeedsAttention; the execution then fails, and no close is asked for (an operator decides)."""
    w = Workflow(D(70))
    w.venues.refuse_long = VenueRejected("Asgard refused the deleverage")
    w.venues.refuse_steps["restore-1"] = VenueRejected("Insufficient margin to place order.")
    run = w.run()
    assert run.status == "FAILED" and run.state["outcome"] == "needs_attention", run
    assert run.entered == [*TRADED, "RebalanceRestore", "RebalanceNeedsAttention", "RebalanceFailed"]
    position = w.ledger.items["p1"]
    assert position.status is PositionStatus.NEEDS_ATTENTION and position.rebalancing is None
    assert position.failure is not None and "the short could not be restored" in position.failure
    assert w.venues.long_size >= w.venues.short  # the long is the larger leg: no naked short
    assert [kind for kind, _ in w.log.alerts] == ["needs_attention"]
    assert w.queue.sent == []
    # the ledger's short keeps its size before; what the buy-back realized is kept for the close that ends it (not
    # in the live PnL: the ledger's short still holds the bought part)
    position, bought = w.ledger.items["p1"], w.venues.steps["rebalance-1"]
    assert position.short_leg == opened().short_leg and bought.realized_usd > 0
    assert position.rebalance_cash_usd == bought.realized_usd.quantize(D("0.01")) and position.rebalance_pnl_usd == 0


def test_the_long_refused_restores_the_short() -> None:
    """The old one-call path ended here as "failed". The workflow retries the long's TransientVenueError (4
    retries), then its compensation sells the short back (legs and ledger as before, a rebalance_failed alert)
    and, the risk staying, asks the strategy worker for the close the rebalance replaced; the execution fails."""
    w = Workflow(D(70))
    w.venues.refuse_long = TransientVenueError("Asgard 503")
    run = w.run()
    assert run.status == "FAILED" and run.state["outcome"] == "undone", run
    assert run.entered == [*TRADED, "RebalanceRestore", "Restored", "CloseAfterFailure", "RebalanceFailed"]
    assert run.errors == [("RebalanceLong", "TransientVenueError")] * 5
    assert w.venues.short == D(10) and w.venues.updates == 0
    assert w.ledger.items["p1"].short_leg == opened().short_leg and w.ledger.items["p1"].rebalancing is None
    assert [kind for kind, _ in w.log.alerts] == ["rebalance_failed"]
    (close,) = w.queue.sent
    assert close["kind"] == "close" and close["position_id"] == "p1" and "Asgard 503" in close["reason"]


@pytest.mark.parametrize(("where", "call"), [("Short", "rebalance-1"), ("Long", "long")])
def test_a_lost_answer_stays_in_flight_and_the_retry_finishes_once(where: str, call: str) -> None:
    """The old path returned "in_flight" and a later resume() finished it. In the workflow the half's lost
    answer (it traded) is a RebalanceLegPending the state machine retries while the intent stays on the open
    position; the retry asks the venue and trades nothing again. A late rerun of the same number does nothing."""
    w = Workflow(D(70))
    w.venues.lose_answers.add(call)
    seen: list[Position] = []
    w.venues.on_lost = lambda: seen.append(w.ledger.items["p1"])
    run = w.run()
    assert run.status == "SUCCEEDED" and run.state["outcome"] == "rebalanced", run
    assert run.errors == [(f"Rebalance{where}", "RebalanceLegPending")]
    (stuck,) = seen
    assert stuck.rebalancing is not None and stuck.status is PositionStatus.OPEN
    assert w.venues.updates == 1 and [s for s in w.venues.steps if s.startswith("rebalance-")] == ["rebalance-1"]
    assert w.venues.short == D(10) - D(run.state["bought_sol"])
    again = w.run()  # nothing in flight any more: rebalance 1 already ended
    assert again.status == "SUCCEEDED" and again.state["outcome"] == "done", again
    assert again.entered == [*START, "NothingToDo"]
    assert w.venues.updates == 1 and list(w.venues.steps) == ["rebalance-1"]


def test_a_long_asgard_cannot_update_in_place_closes_without_trading_either_leg() -> None:
    """Asgard's position updates exist on Kamino and Drift only: on marginfi the short's buy-back would trade, the
    long's deleverage be refused and the short be sold back, two taker fees for nothing. The preflight says so
    first and the position closes, as when no reduction restores the distance."""
    w = Workflow(D(70))
    w.ledger.items["p1"] = replace(w.ledger.items["p1"], protocol=Protocol.MARGINFI)
    run = w.run()
    assert run.state["outcome"] == "cannot", run
    assert run.entered == [*START, "CloseInstead"]
    assert w.venues.steps == {} and w.venues.updates == 0 and w.ledger.items["p1"].rebalances == 0
    (close,) = w.queue.sent
    assert close["kind"] == "close" and "cannot re-centre a marginfi long in place" in close["reason"]


def test_a_position_that_is_not_open_is_left_alone() -> None:
    w = Workflow(D(70))
    w.ledger.items["p1"] = replace(w.ledger.items["p1"], status=PositionStatus.CLOSING)
    run = w.run()
    assert run.status == "SUCCEEDED" and run.state["outcome"] == "refused", run
    assert run.entered == [*START, "NothingToDo"]
    assert w.venues.steps == {} and w.venues.updates == 0 and w.queue.sent == []
    assert w.ledger.items["p1"].rebalances == 0


def test_drawdown_is_measured_from_the_stored_peak_and_rebalance_cash_counts_as_equity() -> None:
    from dnbot.adapters.asgard.health import LongHealth
    from dnbot.adapters.risk import VenueRiskReader

    health = LongHealth(D("0.4"), D("1.6"), D(10), D(500), False, D(1000))

    def reader(position: Position) -> Any:
        return VenueRiskReader(lambda u, p: health, lambda address: {}, lambda u: "0xabc", lambda: D(100),
                               lambda: D(100)).readings(position)

    base = opened()
    at_open = reader(base)
    # the leg holds 1000 bought after its 1 open fee: opened with (1000 + 1) / 2 of collateral, less that fee
    assert at_open.peak_equity_usd == D(1001) / 2 - 1 and at_open.equity_usd == D(500)
    higher = reader(replace(base, peak_equity_usd=D(560)))
    assert higher.peak_equity_usd == D(560)  # the tick's stored high-water mark, not the open
    # after a rebalance took $40 out of the legs' marks (e.g. a partial close paid it out), the equity counts it
    moved = reader(replace(base, rebalance_cash_usd=D(40), rebalance_collateral_usd=D(100)))
    assert moved.equity_usd == D(540) and moved.peak_equity_usd == D(1001) / 2 + 100 - 1


class FeeVenues(Venues):
    """Asgard charging its close fee on a partial close's equity and answering what reached the wallet."""

    FEE = D("0.0005")

    def __init__(self, price: Decimal) -> None:
        super().__init__(price)
        self.paid_out = D(0)

    def shrink_long(self, user_id: str, position_id: str, *, target_leverage: Decimal,
                    close_percentage: Decimal | None, updates_before: int) -> LongState:
        equity = self.long_size * self.price - self.debt
        state = super().shrink_long(user_id, position_id, target_leverage=target_leverage,
                                    close_percentage=close_percentage, updates_before=updates_before)
        if close_percentage is None:
            return state
        self.paid_out = equity * close_percentage / 100 * (1 - self.FEE)
        return replace(state, paid_out_usd=self.paid_out)


def test_a_rally_keeps_what_asgard_paid_and_the_rebalance_s_own_pnl_is_its_fees() -> None:
    w = Workflow(D(140))
    w.venues = FeeVenues(D(140))
    w.steps = PositionRebalancer(w.ledger, w.venues, w.venues, Clock(), activity=w.log, alerts=w.log,
                                 closes=w.queue).steps()
    run = w.run()
    assert run.status == "SUCCEEDED" and run.state["outcome"] == "rebalanced", run
    position = w.ledger.items["p1"]
    short = w.venues.steps["rebalance-1"]
    assert w.venues.paid_out > 0
    assert position.rebalance_cash_usd == (w.venues.paid_out + short.realized_usd).quantize(D("0.01"))
    # the sold part of both legs realized only what the venues charged: Hyperliquid's taker fee, Asgard's close fee
    asgard_fee = w.venues.paid_out / (1 - FeeVenues.FEE) * FeeVenues.FEE
    hyperliquid_fee = short.size_sol * D(140) * D("0.00045")
    assert position.rebalance_pnl_usd == (-asgard_fee - hyperliquid_fee).quantize(D("0.01"))


def test_a_crash_s_deleverage_realizes_only_the_buy_back_s_fee() -> None:
    w = Workflow(D(70))
    run = w.run()
    assert run.status == "SUCCEEDED" and run.state["outcome"] == "rebalanced", run
    position = w.ledger.items["p1"]
    bought = D(run.state["bought_sol"])
    assert bought > 0
    assert position.rebalance_pnl_usd == (-bought * D(70) * D("0.00045")).quantize(D("0.01"))


def test_the_supply_interest_the_long_s_units_grew_by_is_not_counted_as_sold() -> None:
    """Asgard's units grew since the open (supply interest: 10.01 where the ledger leg holds 10): the deleverage
    sold what Asgard held less what it keeps, so its own PnL is still the buy-back's fee alone."""
    w = Workflow(D(70))
    w.venues.long_size = D("10.01")
    run = w.run()
    assert run.status == "SUCCEEDED" and run.state["outcome"] == "rebalanced", run
    bought = D(run.state["bought_sol"])
    position = w.ledger.items["p1"]
    assert position.long_leg is not None and position.long_leg.size == w.venues.long_size
    assert abs(position.rebalance_pnl_usd + bought * D(70) * D("0.00045")) <= D("0.01"), position.rebalance_pnl_usd
