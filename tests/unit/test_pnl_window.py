"""The account's PnL over a window (the dashboard's "PnL 24h"): realized and unrealized, from each position's PnL at
the window's start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from dnbot.domain.pnl_window import PnlReading, PositionPnlTrack, WindowPnl, pnl_in_window

D = Decimal
NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
START = NOW - timedelta(hours=24)


def at(hours_before_now: float) -> datetime:
    return NOW - timedelta(hours=hours_before_now)


def reading(hours_before_now: float, total: str) -> PnlReading:
    return PnlReading(at(hours_before_now), D(total))


cents = st.integers(min_value=-10_000_00, max_value=10_000_00).map(lambda c: D(c) / 100)
inside = st.floats(min_value=0, max_value=23.99)  # hours before now, inside the window
before = st.floats(min_value=24.01, max_value=24 * 60)  # hours before now, before the window


def test_an_open_position_opened_inside_the_window_counts_its_latest_unrealized_pnl_its_open_fees_included() -> None:
    track = PositionPnlTrack(opened_at=at(2), readings=[reading(1.5, "-1.80"), reading(0.5, "-1.25")])
    assert pnl_in_window([track], START) == WindowPnl(D("-1.25"), at(0.5))


def test_an_open_position_opened_before_the_window_counts_the_change_since_the_reading_at_or_just_before_its_start(
) -> None:
    track = PositionPnlTrack(opened_at=at(30), readings=[
        reading(26, "5.00"), reading(24.5, "7.00"), reading(23.5, "8.00"), reading(0.4, "10.50")])
    assert pnl_in_window([track], START) == WindowPnl(D("3.50"), at(0.4))


def test_a_position_opened_before_and_closed_inside_the_window_counts_what_it_earned_inside_it() -> None:
    track = PositionPnlTrack(opened_at=at(40), readings=[reading(24.2, "12.00"), reading(3, "15.00")],
                             closed_at=at(2), realized_usd=D("13.71"))
    assert pnl_in_window([track], START) == WindowPnl(D("1.71"), None)


def test_a_position_closed_before_the_window_counts_nothing() -> None:
    track = PositionPnlTrack(opened_at=at(50), readings=[reading(45, "3.00")], closed_at=at(25),
                             realized_usd=D("-3.29"))
    assert pnl_in_window([track], START) == WindowPnl(D(0), None)


def test_an_open_position_without_a_reading_yet_counts_zero_as_of_its_open() -> None:
    assert pnl_in_window([PositionPnlTrack(opened_at=at(0.2))], START) == WindowPnl(D(0), at(0.2))


def test_as_of_is_the_oldest_latest_reading_of_the_open_positions_and_none_when_every_figure_is_realized() -> None:
    fresh = PositionPnlTrack(opened_at=at(5), readings=[reading(0.1, "2.00")])
    stale = PositionPnlTrack(opened_at=at(5), readings=[reading(0.9, "1.00")])
    closed = PositionPnlTrack(opened_at=at(5), closed_at=at(1), realized_usd=D("-3.29"))
    assert pnl_in_window([fresh, stale, closed], START) == WindowPnl(D("-0.29"), at(0.9))
    assert pnl_in_window([closed], START).as_of is None
    assert pnl_in_window([], START) == WindowPnl(D(0), None)


def test_a_position_opened_just_before_the_window_without_a_reading_there_counts_from_its_open() -> None:
    """Opened 30 min before the window's start, before its first hourly reading: its whole life is the window's."""
    track = PositionPnlTrack(opened_at=at(24.5), readings=[reading(23.8, "-1.80"), reading(1, "4.00")])
    assert pnl_in_window([track], START).total_usd == D("4.00")


def test_a_gap_in_an_old_positions_readings_at_the_start_takes_the_first_reading_after_it() -> None:
    """Opened a month ago, no reading kept around the window's start: not its month's PnL, the nearest figure."""
    track = PositionPnlTrack(opened_at=at(720), readings=[reading(20, "300.00"), reading(1, "304.00")])
    assert pnl_in_window([track], START).total_usd == D("4.00")


@given(opened=inside, realized=cents, readings=st.lists(st.tuples(inside, cents), max_size=5))
def test_a_position_entirely_inside_the_window_contributes_its_whole_realized_pnl(
        opened: float, realized: Decimal, readings: list[tuple[float, Decimal]]) -> None:
    track = PositionPnlTrack(opened_at=at(opened), readings=[PnlReading(at(h), t) for h, t in readings],
                             closed_at=at(opened / 2), realized_usd=realized)
    assert pnl_in_window([track], START) == WindowPnl(realized, None)


@given(opened=before, base=cents, realized=cents, other=st.lists(st.tuples(inside, cents), max_size=5))
def test_what_a_position_earned_before_the_window_plus_inside_it_is_its_realized_pnl(
        opened: float, base: Decimal, realized: Decimal, other: list[tuple[float, Decimal]]) -> None:
    """The reading at the start splits the position's life: the window gets the rest (nothing counted twice)."""
    readings = [PnlReading(START, base), *(PnlReading(at(h), t) for h, t in other)]
    track = PositionPnlTrack(opened_at=at(opened), readings=readings, closed_at=at(1), realized_usd=realized)
    assert base + pnl_in_window([track], START).total_usd == realized


@given(tracks=st.lists(st.builds(
    lambda opened, readings, closed: PositionPnlTrack(
        opened_at=at(opened), readings=[PnlReading(at(h), t) for h, t in readings],
        closed_at=at(closed[0]) if closed else None, realized_usd=closed[1] if closed else None),
    st.one_of(inside, before), st.lists(st.tuples(st.one_of(inside, before), cents), max_size=4),
    st.none() | st.tuples(inside, cents)), max_size=6))
def test_the_account_figure_is_the_sum_of_each_positions_in_any_order(tracks: list[PositionPnlTrack]) -> None:
    whole = pnl_in_window(tracks, START)
    assert pnl_in_window(list(reversed(tracks)), START) == whole
    assert whole.total_usd == sum((pnl_in_window([t], START).total_usd for t in tracks), D(0))
    open_as_of = [pnl_in_window([t], START).as_of for t in tracks if t.realized_usd is None]
    assert whole.as_of == (min(a for a in open_as_of if a is not None) if open_as_of else None)
