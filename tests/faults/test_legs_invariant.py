"""The invariant helper itself: it must catch exactly what issue 8 found (a close that bought back the account's
whole short, a long left alone, a second long for one position), else the fault suite could not fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dnbot.adapters.hyperliquid.positions import ACTION_CLOSE, ACTION_OPEN, position_key
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Leg, Position, PositionStatus
from tests.faults.invariant import AsgardLong, ShortFillRow, VenueTruth, assert_invariant, check_invariant

D = Decimal
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def position(position_id: str, status: PositionStatus, sol: str) -> Position:
    size = D(sol)
    return Position(position_id, "u", Asset.SOL, Protocol.DRIFT, D(2), size * 150, status, T0, T0,
                    long_leg=Leg("asgard", size, D(150), size * 150, D("0.5"), f"pda-{position_id}"),
                    short_leg=Leg("hyperliquid", size, D(150), size * 150, D("0.3"), "cloid"))


def fill(position_id: str, action: int, signed: str, seconds: int, oid: int) -> ShortFillRow:
    return ShortFillRow(position_key(position_id), action, D(signed), int((T0 + timedelta(seconds=seconds))
                                                                          .timestamp() * 1000), oid, f"c{oid}")


def long(position_id: str, size: str, active: bool, closed_after: int | None = None) -> AsgardLong:
    return AsgardLong(f"pda-{position_id}", active, D(size), T0,
                      None if closed_after is None else T0 + timedelta(seconds=closed_after))


def test_two_positions_hedged_hold() -> None:
    truth = VenueTruth(D("-8.5"), [long("a", "3.4", True), long("b", "5.1", True)],
                       [fill("a", ACTION_OPEN, "3.4", 1, 1), fill("b", ACTION_OPEN, "5.1", 2, 2)])
    report = assert_invariant(truth, [position("a", PositionStatus.OPEN, "3.4"),
                                      position("b", PositionStatus.OPEN, "5.1")])
    assert report.naked_legs == 0 and report.duplicate_orders == 0 and report.unhedged_window_seconds == 2


def test_the_account_wide_buy_back_of_issue_8_is_caught() -> None:
    """Closing `a` bought back 8.5 SOL: the ledger's open `b` has no short left at the venue."""
    truth = VenueTruth(D(0), [long("a", "3.4", False, 60), long("b", "5.1", True)],
                       [fill("a", ACTION_OPEN, "3.4", 1, 1), fill("b", ACTION_OPEN, "5.1", 2, 2),
                        fill("a", ACTION_CLOSE, "-8.5", 50, 3)])
    report = check_invariant(truth, [position("a", PositionStatus.CLOSED, "3.4"),
                                     position("b", PositionStatus.OPEN, "5.1")])
    assert not report.holds and report.naked_legs >= 1
    with pytest.raises(AssertionError, match="unhedged"):
        assert_invariant(truth, [position("a", PositionStatus.CLOSED, "3.4"),
                                 position("b", PositionStatus.OPEN, "5.1")])


def test_a_long_left_without_its_short_and_a_second_long_are_caught() -> None:
    truth = VenueTruth(D(0), [long("a", "3.4", True), long("x", "3.4", True)], [fill("a", ACTION_OPEN, "3.4", 1, 1),
                                                                                fill("a", ACTION_CLOSE, "-3.4", 9, 2)])
    report = check_invariant(truth, [position("a", PositionStatus.NEEDS_ATTENTION, "3.4")])
    assert report.naked_legs >= 2  # a's long without its short, and an Asgard long nobody holds
    assert report.duplicate_orders == 1
