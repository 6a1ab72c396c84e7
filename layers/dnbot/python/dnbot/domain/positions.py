"""A position's life: the record both workflows and the API share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum

from dnbot.domain.assets import Asset, Protocol


class PositionStatus(str, Enum):
    PENDING = "pending"  # reserved; the open workflow is running
    OPEN = "open"  # both legs on, delta within tolerance
    CLOSING = "closing"  # the close workflow is running
    CLOSED = "closed"
    FAILED = "failed"  # the open failed and every leg it opened was unwound
    NEEDS_ATTENTION = "needs_attention"  # compensation failed: an operator must look (a leg may be naked)

    def may_move_to(self, target: PositionStatus) -> bool:
        """Whether the table of allowed moves (ALLOWED_MOVES) has this one; staying put is always allowed."""
        return target is self or target in ALLOWED_MOVES[self]

    @property
    def is_live(self) -> bool:
        """Holds (or may hold) capital at a venue."""
        return self in {PositionStatus.PENDING, PositionStatus.OPEN, PositionStatus.CLOSING,
                        PositionStatus.NEEDS_ATTENTION}


# Every status a position may move to from each status. A retried step re-saves the status it set (a self-move).
# PENDING -> OPEN (both legs on) | FAILED (unwound) | NEEDS_ATTENTION (unwind failed)
# OPEN -> CLOSING | NEEDS_ATTENTION (the reconciler found drift)
# CLOSING -> CLOSED | NEEDS_ATTENTION | OPEN (the close stopped and the hedge was restored)
# NEEDS_ATTENTION -> CLOSING (an operator closes it) | OPEN | FAILED | CLOSED (the reconciler resolved it)
# FAILED -> OPEN (a late long adopted with its hedge) | NEEDS_ATTENTION (a late leg found)
# CLOSED -> NEEDS_ATTENTION (a leg found at a venue after the close)
ALLOWED_MOVES: dict[PositionStatus, frozenset[PositionStatus]] = {
    PositionStatus.PENDING: frozenset({PositionStatus.OPEN, PositionStatus.FAILED, PositionStatus.NEEDS_ATTENTION}),
    PositionStatus.OPEN: frozenset({PositionStatus.CLOSING, PositionStatus.NEEDS_ATTENTION}),
    PositionStatus.CLOSING: frozenset({PositionStatus.CLOSED, PositionStatus.NEEDS_ATTENTION, PositionStatus.OPEN}),
    PositionStatus.NEEDS_ATTENTION: frozenset({PositionStatus.CLOSING, PositionStatus.OPEN, PositionStatus.FAILED,
                                               PositionStatus.CLOSED}),
    PositionStatus.FAILED: frozenset({PositionStatus.OPEN, PositionStatus.NEEDS_ATTENTION}),
    PositionStatus.CLOSED: frozenset({PositionStatus.NEEDS_ATTENTION}),
}


class IllegalTransition(Exception):
    """A position was asked to move where the table of allowed moves does not go."""


class StageStatus(str, Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    status: StageStatus
    at: datetime
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Leg:
    """One filled leg. `size` in SOL (or LST) units; `notional_usd` = size x fill price at entry."""

    venue: str  # "asgard" | "hyperliquid"
    size: Decimal
    entry_price: Decimal
    notional_usd: Decimal
    fees_usd: Decimal
    reference: str  # venue's id: Asgard position pda, Hyperliquid order id


@dataclass(frozen=True, slots=True)
class RebalanceInFlight:
    """A rebalance started and not finished: both legs shrink by `reduce_sol` (the short first, then the long:
    deleverage to `target_leverage`, or a partial close of `close_percentage` %). `long_updates_before` is the
    Asgard position's update count before it, so a retry knows whether the long's half already landed."""

    number: int
    reduce_sol: Decimal
    target_leverage: Decimal
    long_updates_before: int
    started_at: datetime
    reason: str = ""
    close_percentage: Decimal | None = None  # None: deleverage
    long_equity_before: Decimal = Decimal(0)  # the long's value - debt before: what left it is known after
    long_debt_before: Decimal | None = None  # Asgard's debt before: the USDC the update repaid is known after
    long_size_before: Decimal | None = None  # Asgard's units before (with their supply interest): what it sold
    # A bridge rebalance (domain.rebalance.size_bridge_rebalance; services/bridge_rebalance.py) moves USDC between
    # the venues: "to_long" after a fall (`bridge_usd` leaves the Hyperliquid account for the long's collateral,
    # nothing is traded: reduce_sol 0), "to_short" after a rally (the partial close's USDC goes to the Hyperliquid
    # account; `bridge_usd` is the planned figure, the close's payout is what moves). None: a shrink.
    bridge: str | None = None
    bridge_usd: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Position:
    position_id: str
    user_id: str
    asset: Asset
    protocol: Protocol
    leverage: Decimal
    target_notional_usd: Decimal
    status: PositionStatus
    created_at: datetime
    updated_at: datetime
    long_leg: Leg | None = None
    short_leg: Leg | None = None
    failure: str | None = None
    realized_pnl_usd: Decimal | None = None
    close_reason: str | None = None
    # The store's write counter: the version this copy was read at. Every save is conditional on the stored
    # version still being this one, and the store bumps it (two writers cannot both win).
    version: int = 0
    # The reconciler's last finding on this position (a venue disagreed with the ledger), for the operator.
    drift: str | None = None
    # In-place rebalances (dnbot.services.rebalance): how many were started, the one in flight (its venue orders
    # carry its number, so a retry never trades twice), and the highest equity the tick has read (drawdown's base).
    rebalances: int = 0
    rebalancing: RebalanceInFlight | None = None
    peak_equity_usd: Decimal | None = None
    # The risk checks the tick warned the trader about and that have not recovered yet (dnbot.domain.risk_warnings,
    # comma-separated): a check is announced once per crossing.
    risk_warned: str | None = None
    # What rebalances took out of the legs' marks: the long's equity paid out (a partial close) or spent (swap
    # costs), plus the short's realized PnL of its buy-backs after fees (now in the Hyperliquid account). The
    # equity reading and the realized PnL add it back; `rebalance_collateral_usd` is the collateral the smaller
    # ledger long no longer shows (notional / leverage), which the close still counts as put in.
    rebalance_cash_usd: Decimal = Decimal(0)
    rebalance_collateral_usd: Decimal = Decimal(0)
    # The rebalances' own realized PnL: the short's buy-backs after fees plus the long's sold part (the debt the update
    # repaid + the equity it paid out - that part's cost at the entry price). The smaller legs' unrealized PnL no
    # longer holds it (domain/pnl_breakdown.unrealized adds it back; the close's realized total has it already).
    rebalance_pnl_usd: Decimal = Decimal(0)
    # The bridge transfers (services/bridge_rebalance.py) whose USDC these books hold, comma-separated: written with
    # the books in one save, so a rerun of that step (or the reconciler's resumption) never books one twice.
    bridge_booked: str | None = None

    @property
    def rebalanced_cash_usd(self) -> Decimal:
        """What in-place rebalances took out of the legs less the collateral the smaller ledger long no longer shows:
        what a close (or the live PnL) adds to the legs' own figures."""
        return self.rebalance_cash_usd - self.rebalance_collateral_usd

    @property
    def long_collateral_usd(self) -> Decimal:
        """The USDC the ledger long was opened with: the notional it bought BEFORE Asgard's open fee (the leg's
        `notional_usd` is size x entry price, what the fill holds after the fee) over the leverage. 0 before the
        long is filled. (A rebalance's smaller leg: `rebalance_collateral_usd` keeps the rest.)"""
        if self.long_leg is None:
            return Decimal(0)
        return (self.long_leg.notional_usd + self.long_leg.fees_usd) / self.leverage

    @property
    def long_debt_at_open_usd(self) -> Decimal:
        """The USDC the ledger long borrowed at its open: its gross notional less its collateral (an estimate
        of the venue's debt, which grows with the borrow interest: read Asgard's own for the debt now)."""
        if self.long_leg is None:
            return self.target_notional_usd - self.target_notional_usd / self.leverage
        return self.long_leg.notional_usd + self.long_leg.fees_usd - self.long_collateral_usd

    def moved_to(self, status: PositionStatus, at: datetime, **changes: object) -> Position:
        """The position in `status`; raises IllegalTransition for a move ALLOWED_MOVES does not have."""
        if not self.status.may_move_to(status):
            raise IllegalTransition(f"position {self.position_id}: {self.status.value} -> {status.value} "
                                    "is not an allowed move")
        return replace(self, status=status, updated_at=at, **changes)  # type: ignore[arg-type]


class JobKind(str, Enum):
    OPEN = "open"
    CLOSE = "close"


class JobStatus(str, Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Job:
    """One run of a workflow on one position, as the dashboard follows it stage by stage."""

    job_id: str
    user_id: str
    position_id: str
    kind: JobKind
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    stages: tuple[Stage, ...] = field(default_factory=tuple)
    error: str | None = None

    def with_stage(self, name: str, status: StageStatus, at: datetime, detail: str = "") -> Job:
        """Append a stage, or update the latest one of the same name (a retried step reports once)."""
        stages = list(self.stages)
        if stages and stages[-1].name == name:
            stages[-1] = Stage(name, status, at, detail)
        else:
            stages.append(Stage(name, status, at, detail))
        return replace(self, stages=tuple(stages), updated_at=at)

    def finished(self, status: JobStatus, at: datetime, error: str | None = None) -> Job:
        return replace(self, status=status, updated_at=at, error=error)


def capital_of(position: Position) -> Decimal:
    """The capital a position commits: collateral + margin = notional x 2 / leverage."""
    return position.target_notional_usd * 2 / position.leverage


def reserved_capital_usd(positions: Iterable[Position]) -> Decimal:
    """Capital that running opens have reserved but the venues' balances do not show as spent yet: all of it
    before the long lands, the short's margin half after it, nothing once both legs are on."""
    reserved = Decimal(0)
    for position in positions:
        if position.status is not PositionStatus.PENDING:
            continue
        if position.long_leg is None:
            reserved += capital_of(position)
        elif position.short_leg is None:
            reserved += capital_of(position) / 2
    return reserved


# A failed open backs the user off: no automatic re-open for 10 min, doubling with each failure in a row, at most
# a day (manual opens are not held back; a successful open resets the count).
OPEN_BACKOFF_BASE = timedelta(minutes=10)
OPEN_BACKOFF_CAP = timedelta(hours=24)
