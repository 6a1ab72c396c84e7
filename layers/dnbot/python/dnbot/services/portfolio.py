"""What a trader sees of their positions: live risk and PnL by source while open, realized PnL once closed.

Live figures come from the venues (RiskReader: Asgard's health factor, Hyperliquid's margin ratio and liquidation
price and SOL oracle; ShortVenue.funding_usd: Hyperliquid's userFunding) and are cached per position for
`cache_seconds`, so a page of positions costs at most one round of venue reads per live position per window.
A venue that cannot be read leaves its figures None and says since when (`stale_since`); it never fails the page.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from dnbot.domain.pnl import CENT, SOURCES, FundingShare, PnlBreakdown
from dnbot.domain.pnl_breakdown import (
    CarryRates,
    LegFill,
    long_price_now,
    realized,
    unrealized,
    unrealized_at_venues,
)
from dnbot.domain.positions import Position, PositionStatus
from dnbot.domain.rates import RatesSnapshot
from dnbot.domain.risk import LegName, RiskReadings, joint_view, liquidation_prices
from dnbot.ports import (
    ActivityLog,
    Clock,
    PnlBook,
    PnlSnapshot,
    PnlSnapshots,
    PositionStore,
    RatesStore,
    RiskReader,
)
from dnbot.services.errors import ServiceError

logger = logging.getLogger(__name__)

LIVE = (PositionStatus.OPEN, PositionStatus.CLOSING, PositionStatus.NEEDS_ATTENTION)
HISTORY = (PositionStatus.CLOSED, PositionStatus.FAILED)
View = Literal["all", "active", "history"]
HOURS = Decimal(3600)


@dataclass(frozen=True, slots=True)
class LiveFigures:
    read_at: datetime
    health_factor: Decimal | None
    margin_ratio: Decimal | None
    liquidation_price_usd: Decimal | None  # the nearer leg's (first_liquidation's) liquidation SOL price
    sol_price_usd: Decimal | None
    liquidation_distance: Decimal | None  # the SOL move (fraction) to the nearer liquidation
    long_liquidation_price_usd: Decimal | None  # SOL falls to it: Asgard liquidates the long
    short_liquidation_price_usd: Decimal | None  # SOL rises to it: Hyperliquid liquidates the short
    first_liquidation: LegName | None  # the leg liquidation_distance refers to
    long_value_usd: Decimal | None
    long_debt_usd: Decimal | None
    short_value_usd: Decimal | None
    pnl: PnlBreakdown | None
    unreadable: tuple[str, ...]  # the venue reads that failed this time
    stale_since: datetime | None  # since when some reading has been unreadable


@dataclass(frozen=True, slots=True)
class PositionView:
    position: Position
    live: LiveFigures | None
    pnl: PnlBreakdown | None
    pnl_kind: Literal["unrealized", "realized"] | None


@dataclass(frozen=True, slots=True)
class PositionsPage:
    views: list[PositionView]
    total: int
    cursor: str | None


FUNDING_EXPORT_DEFAULT_DAYS = 31
FUNDING_EXPORT_MAX_DAYS = 366
FundingSharesOf = Callable[[str, Sequence[Position], datetime, datetime | None], list[FundingShare]]


class InvalidRange(ServiceError):
    status = 422
    code = "invalid_range"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def carry_rates(snapshot: RatesSnapshot | None, position: Position) -> CarryRates:
    """The position's market's carry rates in `snapshot` (none known: zero)."""
    market = snapshot.market(position.asset, position.protocol) if snapshot else None
    return CarryRates(market.staking_apy, market.supply_apy, market.usdc_borrow_apy) if market else CarryRates()


def hours_between(start: datetime, end: datetime) -> Decimal:
    return max(Decimal(0), Decimal(str((end - start).total_seconds())) / HOURS)


class PortfolioService:
    def __init__(self, positions: PositionStore, rates: RatesStore, risk: RiskReader,
                 funding_of: Callable[[Position], Decimal], pnl_book: PnlBook, clock: Clock,
                 cache_seconds: float = 15.0, monotonic: Callable[[], float] = time.monotonic,
                 snapshots: PnlSnapshots | None = None, funding_shares_of: FundingSharesOf | None = None) -> None:
        self._snapshots = snapshots
        self._funding_shares_of = funding_shares_of
        self._positions = positions
        self._rates = rates
        self._risk = risk
        self._funding_of = funding_of
        self._pnl = pnl_book
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int, float, LiveFigures]] = {}  # position id -> (version, when, figures)
        self._failing_since: dict[str, datetime] = {}

    # --- pages -------------------------------------------------------------------------------------------

    def page(self, user_id: str, view: View = "all", limit: int = 50, cursor: str | None = None) -> PositionsPage:
        if not 1 <= limit <= 200:
            raise ServiceError("limit must be between 1 and 200.", code="invalid_limit")
        try:
            offset = int(cursor) if cursor else 0
        except ValueError:
            raise ServiceError("Invalid cursor; start again from the first page.", code="invalid_cursor") from None
        every = self._newest_first(user_id)
        if view == "active":
            every = [p for p in every if p.status not in HISTORY]
        elif view == "history":
            every = [p for p in every if p.status in HISTORY]
        more = offset + limit < len(every)
        return PositionsPage(self._views(user_id, every[offset:offset + limit]), len(every),
                             str(offset + limit) if more else None)

    def every(self, user_id: str) -> list[PositionView]:
        """Every position of the user, newest first (the CSV exports): one read of the positions."""
        return self._views(user_id, self._newest_first(user_id))

    def _newest_first(self, user_id: str) -> list[Position]:
        return sorted(self._positions.list_positions(user_id), key=lambda p: p.created_at, reverse=True)

    def _views(self, user_id: str, positions: list[Position]) -> list[PositionView]:
        booked = self._pnl.realized_of(user_id) if any(p.status in HISTORY for p in positions) else {}
        return [self._view(p, booked.get(p.position_id)) for p in positions]

    def funding_payments(self, user_id: str, since: datetime | None,
                         until: datetime | None) -> list[tuple[Position, FundingShare]]:
        """Every hourly funding payment the user's positions took part in between `since` and `until` (default:
        the last FUNDING_EXPORT_DEFAULT_DAYS days up to now; at most FUNDING_EXPORT_MAX_DAYS), oldest first, each
        position's share of it (what its funding PnL sums)."""
        if self._funding_shares_of is None:
            raise ServiceError("the funding export is not available here.", code="not_available")
        until = _utc(until) if until is not None else self._clock.now()
        since = _utc(since) if since is not None else until - timedelta(days=FUNDING_EXPORT_DEFAULT_DAYS)
        if since >= until:
            raise InvalidRange("since must be before until (ISO 8601 times, UTC when no offset is given).")
        if until - since > timedelta(days=FUNDING_EXPORT_MAX_DAYS):
            raise InvalidRange(f"since..until spans at most {FUNDING_EXPORT_MAX_DAYS} days; export a year at a time.")
        positions = [p for p in self._positions.list_positions(user_id)
                     if p.short_leg is not None and p.created_at < until]
        if not positions:
            return []
        by_id = {p.position_id: p for p in positions}
        shares = self._funding_shares_of(user_id, positions, since, until)
        return [(by_id[share.position_id], share) for share in shares
                if share.position_id in by_id and since <= share.at <= until]

    def one(self, position: Position) -> PositionView:
        return self._views(position.user_id, [position])[0]

    def _view(self, position: Position, booked: dict[str, Decimal] | None) -> PositionView:
        if position.status in HISTORY:
            return PositionView(position, None, self._realized(position, booked), "realized")
        if position.status in LIVE and position.long_leg is not None and position.short_leg is not None:
            live = self.live_figures(position)
            return PositionView(position, live, live.pnl, "unrealized" if live.pnl is not None else None)
        return PositionView(position, None, None, None)

    @staticmethod
    def _realized(position: Position, booked: dict[str, Decimal] | None) -> PnlBreakdown | None:
        if booked is not None:
            return PnlBreakdown(**{name: booked.get(name, Decimal(0)) for name in SOURCES})
        if position.realized_pnl_usd is None:
            return None
        # recorded before the breakdown was kept: the total is known, the sources are not
        return PnlBreakdown(price=position.realized_pnl_usd)

    # --- hourly snapshots (the charts) ---------------------------------------------------------------------

    def record_snapshots(self) -> int:
        """Every open position's PnL by source now, kept for this hour (pnl_snapshots calls it every 30 minutes)."""
        if self._snapshots is None:
            return 0
        written = 0
        for status in (PositionStatus.OPEN, PositionStatus.NEEDS_ATTENTION):
            for position in self._positions.positions_with_status(status):
                if position.long_leg is None or position.short_leg is None:
                    continue
                figures = self.live_figures(position)
                if figures.pnl is None:
                    continue
                self._snapshots.put_snapshot(position.user_id, PnlSnapshot(
                    position.position_id, figures.read_at, figures.pnl.as_dict()))
                written += 1
        return written

    def position_series(self, user_id: str, position_id: str, since: datetime) -> list[PnlSnapshot]:
        return self._snapshots.snapshots(user_id, since, position_id) if self._snapshots else []

    def account_series(self, user_id: str, since: datetime) -> list[PnlSnapshot]:
        """The account's PnL by source at each hour: every position's latest snapshot up to that hour, summed
        (a closed position keeps contributing its realized PnL)."""
        if self._snapshots is None:
            return []
        latest: dict[str, dict[str, Decimal]] = {}
        series: list[PnlSnapshot] = []
        for snapshot in self._snapshots.snapshots(user_id, since):
            latest[snapshot.position_id] = snapshot.parts
            total = {name: sum((parts.get(name, Decimal(0)) for parts in latest.values()), Decimal(0))
                     for name in SOURCES}
            hour = snapshot.at.replace(minute=0, second=0, microsecond=0)
            if series and series[-1].at.replace(minute=0, second=0, microsecond=0) == hour:
                series[-1] = PnlSnapshot("account", snapshot.at, total)
            else:
                series.append(PnlSnapshot("account", snapshot.at, total))
        return series

    # --- live figures ----------------------------------------------------------------------------------------

    def live_figures(self, position: Position) -> LiveFigures:
        key = position.position_id
        with self._lock:
            cached = self._cache.get(key)
            # fresh on both clocks: the process's, and the system's (a simulator's clock moved on by hours makes
            # the venues' figures new at once: interest accrued, funding paid); and read for this version of the
            # position (a rebalance that resized its legs, a close that began, reads the venues afresh)
            if cached is not None and cached[0] == position.version \
                    and self._monotonic() - cached[1] < self._cache_seconds \
                    and abs((self._clock.now() - cached[2].read_at).total_seconds()) < self._cache_seconds:
                return cached[2]
        figures = self._read(position)
        with self._lock:
            self._cache[key] = (position.version, self._monotonic(), figures)
        return figures

    def _read(self, position: Position) -> LiveFigures:
        now = self._clock.now()
        unreadable: list[str] = []
        try:
            readings = self._risk.readings(position)
        except Exception as error:  # the risk reader already maps venue failures to None; this is a last guard
            logger.warning("risk readings failed for %s: %s", position.position_id, error)
            readings = RiskReadings()
        if readings.health_factor is None:
            unreadable.append("asgard")
        if readings.margin_ratio is None and readings.short_liquidation_price is None:
            unreadable.append("hyperliquid")
        funding: Decimal | None
        try:
            funding = self._funding_of(position)
        except Exception as error:  # a venue failure: funding unknown this time
            logger.warning("funding read failed for %s: %s", position.position_id, error)
            funding = None
            unreadable.append("hyperliquid_funding")
        snapshot = self._rates.latest_snapshot()
        sol_now = readings.oracle_price_usd or (snapshot.funding.mark_price if snapshot else None)
        at_now = RiskReadings(health_factor=readings.health_factor,
                              short_liquidation_price=readings.short_liquidation_price, oracle_price_usd=sol_now)
        view, prices = joint_view(at_now), liquidation_prices(at_now)
        long_leg, short_leg = position.long_leg, position.short_leg
        assert long_leg is not None and short_leg is not None
        long_fill = LegFill(long_leg.size, long_leg.entry_price, long_leg.fees_usd)
        short_fill = LegFill(short_leg.size, short_leg.entry_price, short_leg.fees_usd)
        debt = position.long_debt_at_open_usd  # the borrow estimate's principal
        # the long's value and debt now are Asgard's own (its units with the supply interest, its debt with the
        # borrow interest): unknown when Asgard cannot be read, never the ledger's figures at the open
        long_value = _cents(readings.long_value_usd) if readings.long_value_usd else None
        long_debt = _cents(readings.long_debt_usd)
        short_value = pnl = None
        # the short at the price Hyperliquid values it (its mark: its account value and PnL use it), else the oracle
        short_price = readings.short_mark_price_usd or sol_now
        if short_price is not None and sol_now is not None:
            short_value = (short_leg.size * short_price).quantize(CENT)
            hours, rates = hours_between(position.created_at, now), carry_rates(snapshot, position)
            if funding is not None and readings.long_value_usd and readings.long_debt_usd is not None:
                # what the venues hold now, by the close's own formula: the total is the balances' change
                # the short's size at Hyperliquid: a rebalance that failed halfway bought part of it back already
                short_now = LegFill(readings.short_size_sol or short_leg.size, short_leg.entry_price,
                                    short_leg.fees_usd)
                pnl = unrealized_at_venues(
                    long_value_usd=readings.long_value_usd, long_debt_usd=readings.long_debt_usd,
                    long_collateral_usd=position.long_collateral_usd, long=long_fill, short=short_now,
                    short_price_now_usd=short_price, funding_usd=funding,
                    rebalanced_cash_usd=position.rebalanced_cash_usd,
                    debt_at_open_usd=debt, hours_held=hours, rates=rates)
            elif funding is not None:  # Asgard unread: the long priced from its fill and SOL now, carry estimated
                long_now = long_price_now(long_fill, short_leg.entry_price, sol_now, position.asset.is_lst,
                                          None if position.asset.is_lst else readings.long_venue_sol_price_usd)
                pnl = unrealized(long=long_fill, short=short_fill, long_price_now_usd=long_now,
                                 short_mark_now_usd=short_price, funding_usd=funding, debt_usd=debt,
                                 hours_held=hours, rates=rates, rebalanced_usd=position.rebalance_pnl_usd)
        with self._lock:
            if unreadable:
                stale_since = self._failing_since.setdefault(position.position_id, now)
            else:
                self._failing_since.pop(position.position_id, None)
                stale_since = None
        return LiveFigures(
            read_at=now, health_factor=readings.health_factor, margin_ratio=readings.margin_ratio,
            liquidation_price_usd=prices.nearer_usd, sol_price_usd=sol_now, liquidation_distance=view.distance,
            long_liquidation_price_usd=prices.long_usd, short_liquidation_price_usd=prices.short_usd,
            first_liquidation=prices.first, long_value_usd=long_value, long_debt_usd=long_debt,
            short_value_usd=short_value, pnl=pnl, unreadable=tuple(unreadable), stale_since=stale_since)


class PositionJournal:
    """What the workflows tell the trader: an activity line per step that matters, and the realized PnL by
    source kept with a closed or failed position."""

    def __init__(self, activity: ActivityLog, pnl_book: PnlBook, rates: RatesStore, clock: Clock,
                 snapshots: PnlSnapshots | None = None) -> None:
        self._snapshots = snapshots
        self._activity = activity
        self._pnl = pnl_book
        self._rates = rates
        self._clock = clock

    def requested(self, position: Position, what: str, reason: str) -> None:
        self._activity.record(position.user_id, f"{what}_requested",
                              f"{what.capitalize()} {position.asset.value} on {position.protocol.display_name} "
                              f"({position.leverage}x, ${position.target_notional_usd:,.2f} per leg): {reason}.",
                              position.position_id)

    def opened(self, position: Position) -> None:
        long_leg = position.long_leg
        size = f"${long_leg.notional_usd if long_leg else position.target_notional_usd:,.2f}"
        self._activity.record(position.user_id, "position_opened",
                              f"Opened {position.asset.value} long on {position.protocol.display_name} and SOL-PERP "
                              f"short on Hyperliquid, {size} per leg at {position.leverage}x.", position.position_id)

    def unwound(self, position: Position, reason: str) -> None:
        self._activity.record(position.user_id, "unwind",
                              f"The open of {position.asset.value} failed ({reason or 'a venue refused'}); every "
                              "leg it had opened was closed again.", position.position_id)

    def failed(self, position: Position, reason: str, unwound: dict[str, str] | None,
               closing_fees_usd: Decimal = Decimal(0)) -> None:
        """`closing_fees_usd`: what the unwind's closes paid the venues (in the fees part with the open's)."""
        if unwound is not None:
            total = (Decimal(unwound.get("long_proceeds_usd", "0")) - self._collateral(position)
                     + Decimal(unwound.get("short_pnl_usd", "0"))
                     - (position.short_leg.fees_usd if position.short_leg else Decimal(0)))
            self._keep(position, total, Decimal(0), closing_fees_usd)
        self._activity.record(position.user_id, "position_failed",
                              f"Could not open {position.asset.value}: {reason or 'a venue refused'}. No leg is left "
                              "open.", position.position_id)

    def needs_attention(self, position: Position, reason: str) -> None:
        self._activity.record(position.user_id, "needs_attention",
                              f"{position.asset.value} needs an operator: {reason}.", position.position_id)

    def closed(self, position: Position, realized_usd: Decimal, funding_usd: Decimal,
               closing_fees_usd: Decimal = Decimal(0)) -> None:
        """`closing_fees_usd`: what the legs' closes paid the venues (the fees part counts them with the open's)."""
        parts = self._keep(position, realized_usd, funding_usd, closing_fees_usd)
        why = f" ({position.close_reason})" if position.close_reason else ""
        self._activity.record(position.user_id, "position_closed",
                              f"Closed {position.asset.value}{why}: realized {_usd(parts.total)} "
                              f"(funding {_usd(parts.funding)}).", position.position_id,
                              **{f"{name}_usd": value for name, value in parts.as_dict().items()})

    @staticmethod
    def _collateral(position: Position) -> Decimal:
        return position.long_collateral_usd

    def _keep(self, position: Position, total: Decimal, funding: Decimal,
              closing_fees: Decimal = Decimal(0)) -> PnlBreakdown:
        fees = sum((leg.fees_usd for leg in (position.long_leg, position.short_leg) if leg), abs(closing_fees))
        long_value = position.long_leg.notional_usd if position.long_leg else Decimal(0)
        parts = realized(total_usd=total, funding_usd=funding, fees_usd=fees, debt_usd=position.long_debt_at_open_usd,
                         long_value_at_entry_usd=long_value,
                         hours_held=hours_between(position.created_at, self._clock.now()),
                         rates=carry_rates(self._rates.latest_snapshot(), position))
        try:
            self._pnl.put_realized(position.user_id, position.position_id, parts.as_dict())
            if self._snapshots is not None:  # the chart ends at the realized figure
                self._snapshots.put_snapshot(position.user_id, PnlSnapshot(position.position_id,
                                                                           self._clock.now(), parts.as_dict()))
        except Exception:  # the position's total is saved with it; the split is for display
            logger.exception("could not keep the PnL split of %s", position.position_id)
        return parts


def _cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT)


def _usd(value: Decimal) -> str:
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"
