"""The in-place rebalance service (services/rebalance.py) over in-memory venues: the paths the simulator cannot
reach in one scenario (the long's half AND the short's restore refused; a lost answer left in flight), and the
bookkeeping (ledger legs, the cash it moved, one activity event)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Leg, Position, PositionStatus
from dnbot.ports import (
    AmbiguousVenueError,
    LongState,
    PositionConflict,
    ShortFill,
    ShortMargin,
    StepFill,
    TransientVenueError,
    VenueRejected,
)
from dnbot.services.rebalance import PositionRebalancer

D = Decimal
NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
LT = D("0.85")


class Clock:
    def now(self) -> datetime:
        return NOW


class Ledger:
    def __init__(self, position: Position) -> None:
        self.items = {position.position_id: position}

    def get_position(self, user_id: str, position_id: str) -> Position | None:
        return self.items.get(position_id)

    def save_position(self, position: Position, *, expected_updated_at: datetime | None = None) -> Position:
        if self.items[position.position_id].version != position.version:
            raise PositionConflict(position.position_id)
        self.items[position.position_id] = saved = replace(position, version=position.version + 1)
        return saved


class Venues:
    """A 2x SOL long (10 SOL, $500 debt at $100) and its 10 SOL short on a $500 cross account, at `price`."""

    def __init__(self, price: Decimal) -> None:
        self.price = price
        self.long_size, self.debt, self.updates = D(10), D(500), 0
        self.short, self.account_value = D(10), D(500) - D(10) * (price - 100)
        self.steps: dict[str, StepFill] = {}
        self.refuse_long: Exception | None = None
        self.refuse_steps: dict[str, Exception] = {}

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
            pnl = -change_sol * (self.price - 100) if change_sol < 0 else D(0)
            self.steps[step] = StepFill(abs(change_sol), pnl - abs(change_sol) * self.price * D("0.00045"))
        return self.steps[step]


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


def system(price: Decimal) -> tuple[Ledger, Venues, Log, PositionRebalancer]:
    ledger, venues, log = Ledger(opened()), Venues(price), Log()
    return ledger, venues, log, PositionRebalancer(ledger, venues, venues, Clock(), activity=log, alerts=log)


def test_a_crash_rebalance_deleverages_and_the_ledger_takes_the_venues_sizes() -> None:
    ledger, venues, log, rebalancer = system(D(70))
    result = rebalancer.rebalance("u1", "p1", "distance", D("0.3"))
    assert result.status == "rebalanced", result
    position = ledger.items["p1"]
    assert position.rebalancing is None and position.rebalances == 1
    assert position.short_leg is not None and position.long_leg is not None
    assert position.short_leg.size == venues.short == D(10) - result.reduce_sol
    assert position.long_leg.size == venues.long_size
    assert abs(venues.long_size - venues.short) < D("0.01")  # the legs stay equal
    assert venues.debt < 500 and position.rebalance_cash_usd < 0  # the buy-back's fee (no PnL: price fell)
    assert [kind for kind, _ in log.events] == ["position_rebalanced"] and log.alerts == []


def test_a_rally_partially_closes_the_long_and_keeps_what_it_paid_out() -> None:
    ledger, venues, _log, rebalancer = system(D(140))
    result = rebalancer.rebalance("u1", "p1", "distance", D("0.3"))
    assert result.status == "rebalanced", result
    position = ledger.items["p1"]
    assert position.rebalancing is None and venues.updates == 1
    # the buy-back realized the short's loss; the partial close paid the long's share of equity out
    assert position.rebalance_cash_usd > 0
    assert position.rebalance_collateral_usd == (D(1000) - position.long_leg.notional_usd) / 2  # type: ignore[union-attr]


def test_the_long_refused_and_the_restore_refused_goes_to_needs_attention_long_never_smaller() -> None:
    ledger, venues, log, rebalancer = system(D(70))
    venues.refuse_long = VenueRejected("Asgard refused the deleverage")
    venues.refuse_steps["restore-1"] = VenueRejected("Insufficient margin to place order.")
    result = rebalancer.rebalance("u1", "p1", "distance", D("0.3"))
    assert result.status == "needs_attention", result
    position = ledger.items["p1"]
    assert position.status is PositionStatus.NEEDS_ATTENTION and position.rebalancing is None
    assert venues.long_size >= venues.short  # the long is the larger leg: no naked short
    assert [kind for kind, _ in log.alerts] == ["needs_attention"]


def test_the_long_refused_restores_the_short() -> None:
    ledger, venues, log, rebalancer = system(D(70))
    venues.refuse_long = TransientVenueError("Asgard 503")
    result = rebalancer.rebalance("u1", "p1", "distance", D("0.3"))
    assert result.status == "failed"
    assert venues.short == D(10) and venues.updates == 0
    assert ledger.items["p1"].short_leg == opened().short_leg
    assert [kind for kind, _ in log.alerts] == ["rebalance_failed"]


@pytest.mark.parametrize("where", ["short", "long"])
def test_a_lost_answer_stays_in_flight_and_the_resume_finishes_once(where: str) -> None:
    ledger, venues, _log, rebalancer = system(D(70))
    if where == "short":
        venues.refuse_steps["rebalance-1"] = AmbiguousVenueError("no answer")
    else:
        venues.refuse_long = AmbiguousVenueError("no answer")
    assert rebalancer.rebalance("u1", "p1", "distance", D("0.3")).status == "in_flight"
    stuck = ledger.items["p1"]
    assert stuck.rebalancing is not None and stuck.status is PositionStatus.OPEN
    venues.refuse_steps.clear()
    venues.refuse_long = None
    assert rebalancer.resume(stuck).status == "rebalanced"
    assert rebalancer.resume(ledger.items["p1"]).status == "skipped"  # nothing in flight any more
    assert venues.updates == 1 and len([s for s in venues.steps if s.startswith("rebalance-")]) == 1


def test_a_position_that_is_not_open_is_left_alone() -> None:
    ledger, venues, _log, rebalancer = system(D(70))
    ledger.items["p1"] = replace(ledger.items["p1"], status=PositionStatus.CLOSING)
    assert rebalancer.rebalance("u1", "p1", "distance", D("0.3")).status == "skipped"
    assert venues.steps == {} and venues.updates == 0


def test_drawdown_is_measured_from_the_stored_peak_and_rebalance_cash_counts_as_equity() -> None:
    from dnbot.adapters.asgard.health import LongHealth
    from dnbot.adapters.risk import VenueRiskReader

    health = LongHealth(D("0.4"), D("1.6"), D(10), D(500), False, D(1000))

    def reader(position: Position) -> Any:
        return VenueRiskReader(lambda u, p: health, lambda address: {}, lambda u: "0xabc", lambda: D(100),
                               lambda: D(100)).readings(position)

    base = opened()
    at_open = reader(base)
    assert at_open.peak_equity_usd == D(1000) / 2 - 1 and at_open.equity_usd == D(500)
    higher = reader(replace(base, peak_equity_usd=D(560)))
    assert higher.peak_equity_usd == D(560)  # the tick's stored high-water mark, not the open
    # after a rebalance took $40 out of the legs' marks (e.g. a partial close paid it out), the equity counts it
    moved = reader(replace(base, rebalance_cash_usd=D(40), rebalance_collateral_usd=D(100)))
    assert moved.equity_usd == D(540) and moved.peak_equity_usd == D(1000) / 2 + 100 - 1
