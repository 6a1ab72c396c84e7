"""The account's PnL over a window of time (the dashboard's "PnL 24h"): what every position earned from the window's
start on, realized and unrealized, from its stored PnL readings (the hourly snapshots).

A position contributes its PnL at the window's end minus its PnL at the window's start:
- at the end: its realized PnL once closed (or failed), else its latest reading (its unrealized PnL then);
- at the start: 0 if it opened inside the window (so its open fees count), else its reading at or just before the
  start; none kept there: 0 if it opened less than READING_GAP before the start (before its first hourly reading:
  counted from its open), else the first reading after the start (a gap in the readings: the nearest figure known).
A position closed before the window contributes nothing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

ZERO = Decimal(0)
READING_GAP = timedelta(hours=2)  # readings are hourly (taken every 30 min): a position has one within 2 h of its open


@dataclass(frozen=True, slots=True)
class PnlReading:
    """A position's total PnL (USD) read at `at`."""

    at: datetime
    total_usd: Decimal


@dataclass(frozen=True, slots=True)
class PositionPnlTrack:
    """What is known of one position's PnL: when it opened, its realized total and when it closed (both None while
    it is open), and its readings (any order)."""

    opened_at: datetime
    readings: Sequence[PnlReading] = ()
    closed_at: datetime | None = None
    realized_usd: Decimal | None = None


@dataclass(frozen=True, slots=True)
class WindowPnl:
    """`total_usd` earned from the window's start on; `as_of`: the open positions' PnL is counted as of this time
    (the oldest of their latest readings; one with no reading yet counts 0 as of its open), None when no position is
    open (every figure is realized: exact)."""

    total_usd: Decimal
    as_of: datetime | None


def pnl_at_start(track: PositionPnlTrack, start: datetime) -> Decimal:
    """The position's PnL at `start` (see the module's docstring)."""
    if track.opened_at >= start:
        return ZERO
    ordered = sorted(track.readings, key=lambda r: r.at)
    before = [r for r in ordered if r.at <= start]
    if before:
        return before[-1].total_usd
    if track.opened_at >= start - READING_GAP or not ordered:
        return ZERO
    return ordered[0].total_usd


def position_pnl_in_window(track: PositionPnlTrack, start: datetime) -> tuple[Decimal, datetime | None]:
    """What the position earned from `start` on, and as of when (None: realized, exact)."""
    if track.realized_usd is not None and track.closed_at is not None and track.closed_at < start:
        return ZERO, None
    base = pnl_at_start(track, start)
    if track.realized_usd is not None:
        return track.realized_usd - base, None
    latest = max(track.readings, key=lambda r: r.at, default=None)
    if latest is None:
        return ZERO, track.opened_at  # no reading yet: its PnL is counted as of its open, 0
    return latest.total_usd - base, latest.at


def pnl_in_window(tracks: Iterable[PositionPnlTrack], start: datetime) -> WindowPnl:
    """Every position's PnL from `start` on, summed (see the module's docstring)."""
    total = ZERO
    as_of: datetime | None = None
    for track in tracks:
        earned, at = position_pnl_in_window(track, start)
        total += earned
        if at is not None:
            as_of = at if as_of is None else min(as_of, at)
    return WindowPnl(total, as_of)
