"""Drift between the venues' truth and the ledger, and what repairs it. Pure: the reconciler service reads the
venues and the table, calls `classify`, and carries out the plan.

The invariant it serves: at rest (no workflow running for the user), the venues hold exactly the legs the
ledger's live positions record, and no long rests without its short.

Hyperliquid nets every position of an account into one SOL position. Each of the bot's orders carries a client
id naming its position, so the account's fills say how much of the short is each position's own
(`VenueTruth.position_shorts`); what the bot's fills do not explain (a close or a liquidation outside the bot, a
manual trade) is the account's `unattributed_short_sol`.

Repairs, in the order the service carries them out:
- a live position whose long is gone (closed outside the bot, liquidated), whose long was liquidated at
  Asgard, whose own short the bot already bought back (a close that died half-way), whose workflow died
  (pending or closing long after its last write), or whose hedge cannot be restored, is FLATTENED: what is left
  of its long is closed, its own short is bought back, and the ledger settles it (closed, or failed for an open
  that never finished);
- a long or a short of a position that holds no legs in the ledger (failed, closed, unknown: the venue answered
  but the ledger write never happened) is an ORPHAN: closed;
- the account's short above what the live positions hold is bought back exactly (reduce-only); below it (the
  short was closed or liquidated outside the bot while the longs stay open) the hedge is RESTORED by selling the
  missing size; if that fails, the positions it hedged are flattened instead (`unhedgeable`);
- a size the ledger did not record (a fill whose answer was lost) is adopted into the ledger; a long whose size
  differs from the ledger is flagged for the operator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from dnbot.domain.positions import Position, PositionStatus

ZERO = Decimal(0)
SOL_SIZE_STEP = Decimal("0.01")  # Hyperliquid SOL szDecimals = 2: a smaller difference cannot be traded
LONG_SIZE_TOLERANCE = Decimal("0.02")  # Asgard sizes accrue supply interest; 2% is a real change


class DriftKind(str, Enum):
    LONG_MISSING = "long_missing"  # the ledger's long is not active at Asgard (closed outside the bot)
    ASGARD_LIQUIDATION = "asgard_liquidation"  # Asgard liquidated the long (partly or wholly)
    SHORT_MISSING = "short_missing"  # the position's short is gone while its long stays
    HYPERLIQUID_LIQUIDATION = "hyperliquid_liquidation"  # ... because Hyperliquid liquidated the account
    EXTRA_SHORT = "extra_short"  # the account is shorter than the live positions explain
    ORPHAN_LONG = "orphan_long"  # an active Asgard long of a position that holds no legs in the ledger
    ORPHAN_SHORT = "orphan_short"  # a short of a position that holds no legs in the ledger
    UNKNOWN_LONG = "unknown_long"  # an active Asgard long no position of the bot opened
    SIZE_MISMATCH = "size_mismatch"  # a leg's size at the venue differs from the ledger
    STALE_WORKFLOW = "stale_workflow"  # pending/closing long after its last write: its workflow died
    HEDGE_NOT_RESTORED = "hedge_not_restored"  # restoring the short failed: the position is flattened

    @property
    def is_liquidation(self) -> bool:
        return self in {DriftKind.ASGARD_LIQUIDATION, DriftKind.HYPERLIQUID_LIQUIDATION}


@dataclass(frozen=True, slots=True)
class VenueLong:
    """One Asgard position in the user's wallet, active or not."""

    reference: str  # the position's PDA
    position_id: str | None  # the ledger position it was opened for; None: no position of the bot
    size: Decimal  # asset units
    active: bool
    liquidated: bool = False  # Asgard recorded a liquidation event on it


@dataclass(frozen=True, slots=True)
class VenueTruth:
    """What the venues hold for one user now."""

    account_short_sol: Decimal  # Hyperliquid: the account's net SOL short (negative: the account is net long)
    position_shorts: Mapping[str, Decimal]  # position id -> its own net short, from its own fills
    longs: tuple[VenueLong, ...]
    short_liquidated: bool = False  # Hyperliquid liquidated the account since the oldest live position opened

    @property
    def unattributed_short_sol(self) -> Decimal:
        return self.account_short_sol - sum(self.position_shorts.values(), ZERO)


@dataclass(frozen=True, slots=True)
class Drift:
    kind: DriftKind
    message: str
    position_id: str | None = None
    detail: Mapping[str, str] = field(default_factory=dict)


# --- repair actions, carried out in this order: longs, shorts, the account, the ledger ----------------------


@dataclass(frozen=True, slots=True)
class CloseLong:
    position_id: str


@dataclass(frozen=True, slots=True)
class CloseShort:
    """Buy back this position's own short (reduce-only, its own client ids)."""

    position_id: str
    size_sol: Decimal


@dataclass(frozen=True, slots=True)
class TradeAccountShort:
    """Change the account's short by `change_sol` (+ sells, - buys back) with an order no position owns."""

    change_sol: Decimal
    reduce_only: bool
    hedges: tuple[str, ...] = ()  # a restore: the positions it re-hedges (flattened if it cannot be placed)


@dataclass(frozen=True, slots=True)
class SettlePosition:
    """The position's legs are closed by this plan: the ledger moves it to `status` (closed, or failed)."""

    position_id: str
    status: PositionStatus
    reason: str


@dataclass(frozen=True, slots=True)
class FlagPosition:
    """Record the drift on a position that keeps its legs (needs_attention if an operator must decide)."""

    position_id: str
    reason: str
    needs_attention: bool
    adopt_short_sol: Decimal | None = None  # the venue's size, recorded as the ledger's short


Action = CloseLong | CloseShort | TradeAccountShort | SettlePosition | FlagPosition


@dataclass(frozen=True, slots=True)
class ReconcilePlan:
    drifts: tuple[Drift, ...]
    actions: tuple[Action, ...]

    @property
    def in_sync(self) -> bool:
        return not self.drifts

    def of_type(self, kind: type[Action]) -> list[Action]:
        return [a for a in self.actions if isinstance(a, kind)]


def _venue_long_of(position: Position, by_reference: Mapping[str, VenueLong],
                   by_position: Mapping[str, VenueLong]) -> VenueLong | None:
    if position.long_leg is not None and position.long_leg.reference in by_reference:
        return by_reference[position.long_leg.reference]
    return by_position.get(position.position_id)


def _index_by_position(longs: Iterable[VenueLong]) -> dict[str, VenueLong]:
    found: dict[str, VenueLong] = {}
    for long in longs:
        if long.position_id is None:
            continue
        if long.position_id not in found or (long.active and not found[long.position_id].active):
            found[long.position_id] = long
    return found


def classify(positions: Iterable[Position], truth: VenueTruth, *, stale: frozenset[str] = frozenset(),
             unhedgeable: frozenset[str] = frozenset(), step: Decimal = SOL_SIZE_STEP,
             long_tolerance: Decimal = LONG_SIZE_TOLERANCE) -> ReconcilePlan:
    """One user's drift and its repair. `positions`: every ledger position of the user that may hold legs (live
    ones and recently failed or closed ones); the caller has checked no workflow runs for the user, except that
    `stale` names pending/closing positions whose workflow died. `unhedgeable`: positions whose short could not
    be restored (a second pass after a failed restore)."""
    ledger = list(positions)
    live = [p for p in ledger if p.status.is_live]
    live_ids = {p.position_id for p in live}
    by_reference = {long.reference: long for long in truth.longs}
    by_position = _index_by_position(truth.longs)
    claimed: set[str] = set()
    drifts: list[Drift] = []
    close_longs: list[CloseLong] = []
    close_shorts: list[CloseShort] = []
    ledger_actions: list[SettlePosition | FlagPosition] = []
    # Shorts of positions that will hold no legs (flattened, or already failed/closed): bought back below. A
    # buy-back outside the bot (the account is short less than the bot's own fills say) is taken as having closed
    # these first, and only what remains as missing from the live positions' hedge.
    to_close: list[tuple[str, Decimal]] = []

    holders: list[tuple[Position, Decimal]] = []  # live positions that keep their legs, with their own short
    for position in live:
        pid = position.position_id
        venue_long = _venue_long_of(position, by_reference, by_position)
        if venue_long is not None:
            claimed.add(venue_long.reference)
        own = truth.position_shorts.get(pid, ZERO)
        recorded = position.short_leg.size if position.short_leg is not None else ZERO
        long_on = venue_long is not None and venue_long.active
        flatten: tuple[DriftKind, str] | None = None
        if pid in stale:
            flatten = (DriftKind.STALE_WORKFLOW, f"{position.status.value} with no workflow running")
        elif pid in unhedgeable:
            flatten = (DriftKind.HEDGE_NOT_RESTORED, "its short could not be restored")
        elif venue_long is not None and venue_long.liquidated:
            flatten = (DriftKind.ASGARD_LIQUIDATION, f"Asgard liquidated its long {venue_long.reference}")
        elif position.long_leg is not None and not long_on:
            flatten = (DriftKind.LONG_MISSING, f"its long {position.long_leg.reference} is no longer open at Asgard")
        elif long_on and (own < step or own <= recorded - step):
            # a long without its own short: the short was refused and the unwind failed, or the bot's own closing
            # fills bought it back (a close that died half-way)
            flatten = (DriftKind.SHORT_MISSING, f"its long is open, its own short {own} SOL ({recorded} in the "
                                                "ledger)")
        if flatten is not None:
            kind, why = flatten
            if long_on:
                close_longs.append(CloseLong(pid))
            to_close.append((pid, own))
            terminal = PositionStatus.FAILED if position.status is PositionStatus.PENDING else PositionStatus.CLOSED
            message = (f"position {pid}: {why}; closing what is left (long {'open' if long_on else 'gone'}, "
                       f"own short {own} SOL)")
            drifts.append(Drift(kind, message, pid, {"long_open": str(long_on), "own_short_sol": str(own),
                                                     "ledger_short_sol": str(recorded)}))
            ledger_actions.append(SettlePosition(pid, terminal, f"reconciler: {why}"))
            continue
        holders.append((position, own))
        notes: list[str] = []
        needs_attention = False
        adopt: Decimal | None = None
        if position.long_leg is not None and venue_long is not None and position.long_leg.size > 0:
            off = abs(venue_long.size - position.long_leg.size)
            if off > long_tolerance * position.long_leg.size:
                notes.append(f"long is {venue_long.size} at Asgard, {position.long_leg.size} in the ledger")
                needs_attention = True
        if own >= recorded + step and position.short_leg is not None:
            notes.append(f"short is {own} SOL at Hyperliquid, {recorded} in the ledger: adopted")
            adopt = own
        if notes:
            reason = "reconciler: " + "; ".join(notes)
            drifts.append(Drift(DriftKind.SIZE_MISMATCH, f"position {pid}: " + "; ".join(notes), pid,
                                {"own_short_sol": str(own), "ledger_short_sol": str(recorded)}))
            ledger_actions.append(FlagPosition(pid, reason, needs_attention, adopt))

    # orphans: legs at the venues that no live position holds
    for long in truth.longs:
        if not long.active or long.reference in claimed:
            continue
        if long.position_id is None:
            drifts.append(Drift(DriftKind.UNKNOWN_LONG, f"Asgard long {long.reference} ({long.size}) was not opened "
                                "by any position of the bot: left for the operator", None,
                                {"reference": long.reference, "size": str(long.size)}))
            continue
        drifts.append(Drift(DriftKind.ORPHAN_LONG, f"Asgard long {long.reference} ({long.size}) of position "
                            f"{long.position_id}, which holds no legs in the ledger: closing it", long.position_id,
                            {"reference": long.reference, "size": str(long.size)}))
        close_longs.append(CloseLong(long.position_id))
    orphans = [(pid, own) for pid, own in sorted(truth.position_shorts.items()) if pid not in live_ids]
    absorbed = max(-truth.unattributed_short_sol, ZERO)  # bought back outside the bot
    for pid, own in [*to_close, *orphans]:
        taken = min(absorbed, max(own, ZERO))
        absorbed -= taken
        size = own - taken
        if size < step:
            continue
        close_shorts.append(CloseShort(pid, size))
        if pid not in live_ids:
            drifts.append(Drift(DriftKind.ORPHAN_SHORT, f"a {own} SOL short of position {pid}, which holds no legs "
                                f"in the ledger: buying back {size} SOL", pid, {"own_short_sol": str(own)}))

    # the account: what the live positions hold vs what remains after the closes above
    after_closes = truth.account_short_sol - sum((c.size_sol for c in close_shorts), ZERO)
    held = sum((own for _, own in holders), ZERO)
    excess = after_closes - held
    account_action: TradeAccountShort | None = None
    if excess >= step:
        drifts.append(Drift(DriftKind.EXTRA_SHORT, f"the Hyperliquid account is short {after_closes} SOL, its live "
                            f"positions {held} SOL: buying back the {excess} SOL excess", None,
                            {"account_short_sol": str(after_closes), "positions_short_sol": str(held)}))
        account_action = TradeAccountShort(-excess, reduce_only=True)
    elif excess <= -step:
        missing = -excess
        hedged = tuple(p.position_id for p, own in holders if own > 0)
        if hedged:
            kind = DriftKind.HYPERLIQUID_LIQUIDATION if truth.short_liquidated else DriftKind.SHORT_MISSING
            cause = "liquidated by Hyperliquid" if truth.short_liquidated else "closed outside the bot"
            message = (f"the Hyperliquid account is short {after_closes} SOL, its live positions {held} SOL "
                       f"({cause}): restoring the hedge ({missing} SOL)")
            drifts.append(Drift(kind, message, None, {"account_short_sol": str(after_closes),
                                                      "positions_short_sol": str(held), "positions": ",".join(hedged)}))
            account_action = TradeAccountShort(missing, reduce_only=False, hedges=hedged)
            ledger_actions.extend(FlagPosition(pid, f"reconciler: short {cause}, hedge restored", False)
                                  for pid in hedged)
        elif after_closes < 0:
            drifts.append(Drift(DriftKind.EXTRA_SHORT, f"the Hyperliquid account is LONG {-after_closes} SOL that no "
                                "position explains: selling it back", None, {"account_short_sol": str(after_closes)}))
            account_action = TradeAccountShort(-after_closes, reduce_only=True)

    actions: list[Action] = [*close_longs, *close_shorts]
    if account_action is not None:
        actions.append(account_action)
    actions.extend(ledger_actions)
    return ReconcilePlan(tuple(drifts), tuple(actions))
