"""The reconciler: every two minutes, for every user with live or recently failed positions, the venues' truth is
compared with the ledger (dnbot.domain.reconcile classifies), orphan legs are closed or the hedge restored, the
drift is recorded on the positions, and the operator is alerted.

Fan-out (however many users): the scheduled run only reads who to reconcile (keys of one index) and enqueues one
message per user (`enqueue_round`, SendMessageBatch ten a call); the reconcile queue's consumer reconciles one
user per message (`reconcile_message`), partial batch failures. `run` is the same round in one process.

USDC in the bridge (services/bridge.py, when configured): every pass first resumes the user's transfers a
workflow gave up on after their burn (attest, mint; never a burn), and alerts `bridge_overdue` once per transfer
still not credited 30 min (Fast) after its burn. A transfer is resumed only once no one has written it for the
workflow grace, so the alert comes when both hold.

Safe beside the workflows: a user with a workflow running (a position pending or closing, written within the
grace period) is skipped, and the ledger is read again after the venues: if it changed meanwhile the user is
skipped this round. Idempotent: a second run over the same state finds nothing (repairs are keyed, findings
already recorded on a position are not recorded or alerted again).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from dnbot.domain.bridge import BridgeDirection, BridgeState, BridgeTransfer, stage
from dnbot.domain.pnl import CENT
from dnbot.domain.pnl_breakdown import position_pnl_usd
from dnbot.domain.positions import Position, PositionStatus
from dnbot.domain.reconcile import (
    CloseLong,
    CloseShort,
    Drift,
    FlagPosition,
    ReconcilePlan,
    SettlePosition,
    TradeAccountShort,
    VenueTruth,
    classify,
)
from dnbot.ports import (
    AccountShortTrader,
    AlertSink,
    AmbiguousVenueError,
    Clock,
    LongVenue,
    PnlBook,
    PositionStore,
    ReconcileTargets,
    ShortVenue,
    TransientVenueError,
    UserLease,
    VenueRejected,
    VenueTruthReader,
    WorkQueue,
)
from dnbot.services.portfolio import PositionJournal

if TYPE_CHECKING:  # the bridge's chains (solders) are imported only where one is configured
    from dnbot.services.bridge import BridgeService

logger = logging.getLogger(__name__)

RUNNING = (PositionStatus.PENDING, PositionStatus.CLOSING)
RESERVE_SECONDS = 20.0  # stop taking users this close to the Lambda timeout: one user's repairs fit in it
# A reconcile worker holds its user this long at most (one user's repairs take ~20 s; a dead worker's lease lapses)
RECONCILE_LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class ReconcilerLimits:
    workflow_grace: timedelta  # a pending/closing position written more recently has its workflow running
    lookback: timedelta  # failed and closed positions this recent are reconciled too


@dataclass
class ReconcileReport:
    users: int = 0
    in_sync: int = 0
    skipped: list[str] = field(default_factory=list)  # users with a workflow running (or a ledger that moved)
    drifts: list[dict[str, str]] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    unfinished: int = 0  # users left for the next cycle (the invocation ran out of time)


@dataclass
class ReconcileRound:
    """What the scheduled run did: the users it handed to the reconcile queue."""

    round: str
    enqueued: int = 0


class Reconciler:
    def __init__(self, targets: ReconcileTargets, positions: PositionStore, truth: VenueTruthReader,
                 long_venue: LongVenue, short_venue: ShortVenue, trader: AccountShortTrader, alerts: AlertSink,
                 clock: Clock, limits: ReconcilerLimits, queue: WorkQueue | None = None,
                 lease: UserLease | None = None, journal: PositionJournal | None = None,
                 bridge: BridgeService | None = None, pnl_book: PnlBook | None = None) -> None:
        """`queue`: the reconcile queue `enqueue_round` hands the users to (None: only `run` and one user).
        `lease`: one reconcile per user at a time, however often the queue delivers its message.
        `journal`: a position it closes gets its realized PnL by source and activity line, as a close's does.
        `bridge`: the user's CCTP transfers are resumed and the overdue ones alerted (None: paper venues);
        `pnl_book`: where a close's capital transfer it finished books its fees on the closed position."""
        self._pnl_book = pnl_book
        self._bridge = bridge
        self._journal = journal
        self._queue = queue
        self._lease = lease
        self._targets = targets
        self._positions = positions
        self._truth = truth
        self._long = long_venue
        self._short = short_venue
        self._trader = trader
        self._alerts = alerts
        self._clock = clock
        self._limits = limits

    def run(self, seconds_left: Callable[[], float] | None = None) -> ReconcileReport:
        """One cycle over every user to reconcile, in an order shuffled per cycle: if the invocation runs out of
        time (`seconds_left` under RESERVE_SECONDS) the rest wait for the next cycle, and no user is always last."""
        report = ReconcileReport()
        now = self._clock.now()
        users = self._targets.user_ids_to_reconcile(now - self._limits.lookback)
        cycle = now.strftime("%Y%m%d%H%M")
        users.sort(key=lambda user_id: hashlib.sha256(f"{cycle}:{user_id}".encode()).digest())
        for index, user_id in enumerate(users):
            if seconds_left is not None and seconds_left() < RESERVE_SECONDS:
                report.unfinished = len(users) - index
                logger.warning("reconciler out of time: %d users wait for the next cycle", report.unfinished)
                break
            report.users += 1
            try:
                self.reconcile_user(user_id, report)
            except Exception as error:  # one user's venue outage must not stop the others' round
                logger.exception("reconciling user %s failed", user_id)
                report.errors[user_id] = f"{type(error).__name__}: {error}"
        return report

    def enqueue_round(self) -> ReconcileRound:
        """The scheduled run's part: one message per user to reconcile, whatever their number (a round of 10,000
        users is 1,000 SendMessageBatch calls and no venue read). A user already reconciled by a message of this
        round (a duplicate delivery) is in sync the second time: every repair is keyed."""
        if self._queue is None:
            raise RuntimeError("the reconciler has no queue to fan out to (DNBOT_RECONCILE_QUEUE_URL)")
        now = self._clock.now()
        cycle = now.strftime("%Y%m%d%H%M")
        users = self._targets.user_ids_to_reconcile(now - self._limits.lookback)
        self._queue.send_batch([{"kind": "reconcile_user", "user_id": user_id, "round": cycle}
                                for user_id in users])
        return ReconcileRound(cycle, len(users))

    def reconcile_message(self, message: dict[str, object]) -> ReconcileReport:
        """One message of the reconcile queue: that user's reconciliation. A venue outage raises (the message
        fails alone, to the dead-letter queue; the next round reconciles the user again)."""
        if message.get("kind") != "reconcile_user" or not isinstance(message.get("user_id"), str):
            raise ValueError(f"not a reconcile message: {message!r}")
        return self.reconcile_one(str(message["user_id"]))

    def reconcile_one(self, user_id: str) -> ReconcileReport:
        """One user, unless another worker is reconciling them right now (standard SQS can deliver a message
        twice): then this one skips, and the other's repairs stand."""
        report = ReconcileReport(users=1)
        holder = uuid.uuid4().hex
        if self._lease is not None and not self._lease.acquire_user_lease("reconcile", user_id, holder,
                                                                          RECONCILE_LEASE):
            report.skipped.append(user_id)
            return report
        try:
            self.reconcile_user(user_id, report)
        finally:
            if self._lease is not None:
                self._lease.release_user_lease("reconcile", user_id, holder)
        return report

    # --- one user -----------------------------------------------------------------------------------------

    def _read(self, user_id: str) -> list[Position]:
        return self._positions.list_positions(user_id)

    def reconcile_user(self, user_id: str, report: ReconcileReport) -> ReconcilePlan | None:
        now = self._clock.now()
        positions = self._read(user_id)
        self._resume_bridges(user_id, positions, report)
        # a rebalance in flight (services.rebalance) is a workflow too: its legs move between two writes
        running = [p for p in positions if (p.status in RUNNING or p.rebalancing is not None)
                   and now - p.updated_at < self._limits.workflow_grace]
        if running:
            report.skipped.append(user_id)
            return None
        stale = frozenset(p.position_id for p in positions if p.status in RUNNING)
        relevant = [p for p in positions if p.status.is_live or now - p.updated_at < self._limits.lookback]
        truth = self._venue_truth(user_id, relevant, now)
        if _versions(self._read(user_id)) != _versions(positions):
            report.skipped.append(user_id)  # a workflow wrote meanwhile: next round
            return None
        plan = classify(relevant, truth, stale=stale)
        if plan.in_sync:
            report.in_sync += 1
            return plan
        unhedgeable = self._carry_out(user_id, plan, report, {p.position_id: p for p in relevant})
        if unhedgeable:
            # the hedge could not be restored: flatten the positions it was for, on a fresh read of the venues
            positions = [p for p in self._read(user_id) if p.position_id in {q.position_id for q in relevant}]
            plan = classify(positions, self._venue_truth(user_id, positions, now), stale=stale,
                            unhedgeable=frozenset(unhedgeable))
            self._carry_out(user_id, plan, report, {p.position_id: p for p in positions})
        return plan

    def _resume_bridges(self, user_id: str, positions: list[Position], report: ReconcileReport) -> None:
        """The user's bridge transfers no workflow is driving any more, one attempt each (BridgeService.resume:
        its own guard keeps it off a record a live workflow writes, so it runs even when the user is skipped),
        then one `bridge_overdue` alert per transfer burned and still not credited past its window, then the rent
        of its credited Solana burns' event accounts back to the wallet once 5 days old (`reclaim_rent`). A failure
        here is reported and leaves the positions' reconciliation to go on."""
        if self._bridge is None:
            return
        try:
            resumed = self._bridge.resume(user_id, positions, idle=self._limits.workflow_grace)
            self._book_bridged(resumed, {p.position_id: p for p in positions})
            for record in self._bridge.overdue(resumed):
                where = stage(record).value
                self._alerts.alert(
                    "bridge_overdue",
                    f"bridge transfer {record.transfer_id} ({record.direction.value}, {record.amount_usd} USDC) "
                    f"is still {where} since its burn at {record.burned_at:%Y-%m-%d %H:%M} UTC",
                    user_id=user_id, position_id=record.position_id,
                    detail={"transfer_id": record.transfer_id, "stage": where, "burn_tx": record.burn_tx,
                            "amount_usd": str(record.amount_usd), "error": record.error})
                self._bridge.report_overdue(record)  # after the alert: at worst it is sent twice, never lost
                report.drifts.append({"user_id": user_id, "kind": "bridge_overdue", "position_id": record.position_id,
                                      "message": f"bridge transfer {record.transfer_id} is still {where}"})
            self._bridge.reclaim_rent(user_id)  # credited Solana burns 5 days old: their event account's rent back
        except Exception as error:  # the bridge (chains, Iris, the store) must not stop the positions' round
            logger.exception("resuming the bridge transfers of %s failed", user_id)
            report.errors[user_id] = f"bridge: {type(error).__name__}: {error}"

    def _book_bridged(self, resumed: list[BridgeTransfer], by_id: dict[str, Position]) -> None:
        """A to_short transfer this pass finished after its workflow gave up: its USDC left the position's
        rebalance cash for the Hyperliquid account, so a live position's books say so (once per transfer). A
        to_long one landed in the Solana wallet, and neither side of that move is in the position's equity. A
        close's capital transfer (number 0) books its fees on the closed position, as the close's last step does."""
        from dnbot.services.bridge_rebalance import book_to_short
        from dnbot.services.capital_balance import book_capital_fees, is_capital_transfer

        for record in resumed:
            position = by_id.get(record.position_id)
            if record.state is not BridgeState.CREDITED or position is None:
                continue
            if is_capital_transfer(record) and not position.status.is_live:
                book_capital_fees(self._positions, self._pnl_book, record, self._clock.now())
            elif record.direction is BridgeDirection.TO_SHORT and position.status.is_live:
                fresh = self._positions.get_position(position.user_id, position.position_id) or position
                book_to_short(self._positions, fresh, record, self._clock.now())

    def _venue_truth(self, user_id: str, positions: list[Position], now: datetime) -> VenueTruth:
        live = [p.created_at for p in positions if p.status.is_live]
        since = min(live) if live else now - self._limits.lookback
        return self._truth.venue_truth(user_id, [p.position_id for p in positions], since)

    def _carry_out(self, user_id: str, plan: ReconcilePlan, report: ReconcileReport,
                   positions: dict[str, Position]) -> list[str]:
        """The plan's repairs in order; returns the positions whose hedge could not be restored."""
        stamp = self._clock.now().strftime("%Y%m%dT%H%M%S")
        long_proceeds: dict[str, Decimal] = {}
        short_pnl: dict[str, Decimal] = {}
        unhedgeable: list[str] = []
        failed: set[str] = set()  # positions whose repair failed this round: their ledger stays as it is
        flags = {a.position_id: a for a in plan.actions if isinstance(a, FlagPosition)}
        fresh = [d for d in plan.drifts if not _already_recorded(d, positions, flags)]
        for action in plan.actions:
            try:
                if isinstance(action, CloseLong):
                    long_proceeds[action.position_id] = self._long.close_long(user_id, action.position_id)
                    report.repairs.append(f"{user_id}: closed the Asgard long of {action.position_id}")
                elif isinstance(action, CloseShort):
                    short_pnl[action.position_id] = self._short.close_short(user_id, action.position_id,
                                                                            action.size_sol)
                    report.repairs.append(f"{user_id}: bought back {action.size_sol} SOL of {action.position_id}")
                elif isinstance(action, TradeAccountShort):
                    self._trade_account(user_id, action, stamp, report, unhedgeable)
                elif action.position_id in failed or (unhedgeable and action.position_id in unhedgeable):
                    continue
                elif isinstance(action, SettlePosition):
                    self._settle(positions[action.position_id], action, long_proceeds, short_pnl)
                else:
                    self._flag(positions[action.position_id], action)
            except (TransientVenueError, AmbiguousVenueError, VenueRejected) as error:
                subject = getattr(action, "position_id", None)
                if subject is not None:
                    failed.add(subject)
                report.errors[user_id] = f"{type(action).__name__}: {type(error).__name__}: {error}"
                self._alerts.alert("reconciler_repair_failed", f"{type(action).__name__} failed: {error}",
                                   user_id=user_id, position_id=subject, detail={"action": repr(action)})
        for drift in plan.drifts:
            report.drifts.append({"user_id": user_id, "kind": drift.kind.value, "message": drift.message,
                                  "position_id": drift.position_id or ""})
        for drift in fresh:
            self._alerts.alert("liquidation" if drift.kind.is_liquidation else "drift", drift.message,
                               user_id=user_id, position_id=drift.position_id,
                               detail={"drift": drift.kind.value, **drift.detail})
        _record_metric(len(fresh))
        return unhedgeable

    def _trade_account(self, user_id: str, action: TradeAccountShort, stamp: str, report: ReconcileReport,
                       unhedgeable: list[str]) -> None:
        try:
            self._trader.trade_account_short(user_id, action.change_sol, reduce_only=action.reduce_only,
                                             key=f"{stamp}:{action.change_sol}")
        except VenueRejected:
            if not action.hedges:
                raise
            unhedgeable.extend(action.hedges)  # the hedge cannot be restored: the longs it hedged are closed
            report.repairs.append(f"{user_id}: the hedge could not be restored; flattening {', '.join(action.hedges)}")
            return
        verb = "sold" if action.change_sol > 0 else "bought back"
        report.repairs.append(f"{user_id}: {verb} {abs(action.change_sol)} SOL on the account")

    # --- the ledger ----------------------------------------------------------------------------------------

    def _settle(self, position: Position, action: SettlePosition, long_proceeds: dict[str, Decimal],
                short_pnl: dict[str, Decimal]) -> None:
        """Both legs are closed: the position ends (closed, or failed for an open that never finished). A move the
        table does not allow directly goes through needs_attention, where the reconciler's finding is recorded."""
        now = self._clock.now()
        current = self._positions.get_position(position.user_id, position.position_id) or position
        pid = position.position_id
        changes: dict[str, object] = {"drift": action.reason}
        funding = Decimal(0)
        if action.status is PositionStatus.CLOSED:
            funding = self._short.funding_usd(current.user_id, pid, current.created_at) if current.short_leg \
                else Decimal(0)
            realized = position_pnl_usd(  # the close's own formula (position_steps.mark_closed)
                long_proceeds_usd=long_proceeds.get(pid, Decimal(0)), long_collateral_usd=current.long_collateral_usd,
                rebalanced_cash_usd=current.rebalanced_cash_usd, short_pnl_usd=short_pnl.get(pid, Decimal(0)),
                short_open_fee_usd=current.short_leg.fees_usd if current.short_leg else Decimal(0),
                funding_usd=funding)
            changes.update(realized_pnl_usd=realized.quantize(CENT), close_reason=action.reason)
        else:
            changes["failure"] = action.reason
        if not current.status.may_move_to(action.status):
            current = self._positions.save_position(current.moved_to(
                PositionStatus.NEEDS_ATTENTION, now, failure=action.reason, drift=action.reason))
        settled = self._positions.save_position(current.moved_to(action.status, now, **changes))
        if self._journal is not None and settled.status is PositionStatus.CLOSED \
                and settled.realized_pnl_usd is not None:
            self._journal_closed(settled, settled.realized_pnl_usd, funding)

    def _journal_closed(self, position: Position, realized: Decimal, funding: Decimal) -> None:
        """The split by source (funding, both closes' venue fees) and the activity line; the position is settled
        already, so a failure here is logged, never retried into a second settle."""
        assert self._journal is not None
        try:
            fees = (self._long.long_closing_fees_usd(position.user_id, position.position_id)
                    + self._short.short_closing_fees_usd(position.user_id, position.position_id))
            self._journal.closed(position, realized, funding, fees)
        except Exception:  # the realized total is saved with the position; the split is for display
            logger.exception("could not record the realized split of %s", position.position_id)

    def _flag(self, position: Position, action: FlagPosition) -> None:
        current = self._positions.get_position(position.user_id, position.position_id) or position
        if current.drift == action.reason and (not action.needs_attention
                                               or current.status is PositionStatus.NEEDS_ATTENTION):
            return  # already recorded: nothing to write, nothing to alert
        updated = replace(current, drift=action.reason, updated_at=self._clock.now())
        if action.adopt_short_sol is not None and current.short_leg is not None:
            leg, size = current.short_leg, action.adopt_short_sol
            updated = replace(updated, short_leg=replace(
                leg, size=size, notional_usd=(size * leg.entry_price).quantize(CENT)))
        if action.needs_attention:
            updated = updated.moved_to(PositionStatus.NEEDS_ATTENTION, self._clock.now(), failure=action.reason)
        self._positions.save_position(updated)


def _already_recorded(drift: Drift, positions: dict[str, Position], flags: dict[str, FlagPosition]) -> bool:
    """A finding kept on a position from an earlier round (an unresolved size mismatch) is not alerted again."""
    if drift.position_id is None or drift.position_id not in flags:
        return False
    position = positions.get(drift.position_id)
    flag = flags[drift.position_id]
    return position is not None and position.drift == flag.reason and (
        not flag.needs_attention or position.status is PositionStatus.NEEDS_ATTENTION)


def _versions(positions: list[Position]) -> dict[str, tuple[str, int]]:
    return {p.position_id: (p.status.value, p.version) for p in positions}


def _record_metric(drifts: int) -> None:
    """ReconcilerDrift, which the stack's alarm reads (PositionNeedsAttention comes from the table's stream)."""
    if drifts:
        from dnbot import observability

        observability.record(observability.RECONCILER_DRIFT, drifts)
