"""The steps of the open and close state machines (dnbot/workflows/definitions.py), and those of the rebalance
machine (services/rebalance.py, PositionRebalancer.steps) when the venues can rebalance in place.

Each step takes the execution state (a JSON object: user_id, position_id, job_id, ...) and returns it, updated.
Every step is idempotent: Step Functions retries it after a timeout, and a retried step must not open a second
leg. So each trading step first looks at what the position record (and then the venue, by the position id used
as the venue's client id) says already happened.

Exceptions are the workflow's error names: TransientVenueError is retried by the state machine; anything else
sends the execution to compensation (Unwind for opens, MarkNeedsAttention for closes).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from dnbot.domain.fills import price_consensus, validate_fills
from dnbot.domain.pnl import CENT
from dnbot.domain.pnl_breakdown import position_pnl_usd
from dnbot.domain.positions import (
    OPEN_BACKOFF_BASE,
    OPEN_BACKOFF_CAP,
    Job,
    JobKind,
    JobStatus,
    Leg,
    Position,
    PositionStatus,
    Stage,
    StageStatus,
    capital_of,
    reserved_capital_usd,
)
from dnbot.ports import (
    AlertSink,
    CapitalSource,
    Clock,
    FundingSource,
    JobStore,
    KillSwitchReader,
    LongOpenRequest,
    LongVenue,
    OpenGuard,
    PositionStore,
    RatesStore,
    ShortVenue,
    StakePoolReader,
    TransientVenueError,
    UserStore,
)
from dnbot.resources import KillSwitch
from dnbot.services.portfolio import PositionJournal
from dnbot.services.preflight_checks import lst_depeg_refusal

if TYPE_CHECKING:
    from dnbot.services.capital_balance import CapitalBalance
    from dnbot.services.rebalance import PositionRebalancer

State = dict[str, Any]
logger = logging.getLogger(__name__)

SOL_SIZE_STEP = Decimal("0.01")  # Hyperliquid SOL szDecimals = 2
KILL_SWITCH_REFUSAL = "kill switch is "  # how a step refused by the kill switch starts its message


class StepRefused(Exception):
    """A precondition failed before any money moved (kill switch, stale rates, no consensus...)."""


class FillMismatch(Exception):
    """The two legs' notionals differ by more than the tolerance: the position is not delta neutral."""


class LegsStillOpen(TransientVenueError):
    """Reconcile found a leg the venue still reports open; retried until it is flat."""


@dataclass(frozen=True)
class StepLimits:
    rates_stale_after_seconds: int
    price_consensus_tolerance: Decimal
    fill_delta_tolerance: Decimal


class PositionSteps:
    def __init__(self, positions: PositionStore, jobs: JobStore, rates: RatesStore, kill_switch: KillSwitchReader,
                 funding: FundingSource, long_venue: LongVenue, short_venue: ShortVenue, clock: Clock,
                 limits: StepLimits, journal: PositionJournal | None = None, guard: OpenGuard | None = None,
                 alerts: AlertSink | None = None, capital: CapitalSource | None = None,
                 users: UserStore | None = None, rebalancer: PositionRebalancer | None = None,
                 capital_balance: CapitalBalance | None = None, stake_pools: StakePoolReader | None = None) -> None:
        self._stake_pools = stake_pools  # the LSTs' redemption rates on chain, the depeg check's reference
        self._capital, self._users = capital, users  # Reserve: free capital minus other opens' reservations
        self._alerts = alerts  # the operator's alerts: every unwind and needs_attention (None: not sent)
        self._guard = guard  # the per-user "open in flight" lock and the failed-open back-off (None: not kept)
        self._journal = journal  # the trader's activity log and realized PnL by source (None: not recorded)
        self._positions = positions
        self._jobs = jobs
        self._rates = rates
        self._kill_switch = kill_switch
        self._funding = funding
        self._long = long_venue
        self._short = short_venue
        self._clock = clock
        self._limits = limits
        self._steps: dict[str, Callable[[State], State]] = {
            "preflight": self.preflight, "reserve": self.reserve, "open_long": self.open_long,
            "open_short": self.open_short, "validate_fills": self.validate_fills, "mark_open": self.mark_open,
            "unwind": self.unwind, "mark_failed": self.mark_failed,
            "mark_needs_attention": self.mark_needs_attention,
            "close_preflight": self.close_preflight, "close_short": self.close_short,
            "close_long": self.close_long, "reconcile": self.reconcile, "mark_closed": self.mark_closed,
        }
        if rebalancer is not None:  # the rebalance state machine's steps (services/rebalance.py)
            self._steps.update(rebalancer.steps())
        self._steps["capital_plan"] = self.capital_plan
        if capital_balance is not None:  # the close's capital split over the bridge (services/capital_balance.py)
            self._steps.update(capital_balance.steps())

    @staticmethod
    def capital_plan(state: State) -> State:
        """Without a bridge (the paper venues) the capital stays where the close left it."""
        state["bridge_outcome"] = "skipped"
        return state

    def run(self, step: str, state: State) -> State:
        handler = self._steps.get(step)
        if handler is None:
            raise ValueError(f"unknown workflow step {step!r}")
        return handler(state)

    # --- records ----------------------------------------------------------------------------------------

    def _position(self, state: State) -> Position:
        position = self._positions.get_position(state["user_id"], state["position_id"])
        if position is None:
            raise StepRefused(f"position {state['position_id']} does not exist")
        return position

    def _job(self, state: State) -> Job:
        job = self._jobs.get_job(state["job_id"])
        if job is None:
            raise StepRefused(f"job {state['job_id']} does not exist")
        return job

    def _stage(self, state: State, name: str, status: StageStatus, detail: str = "") -> None:
        self._jobs.put_job(self._job(state).with_stage(name, status, self._clock.now(), detail))

    def _save(self, before: Position, after: Position) -> Position:
        """A versioned conditional write (the version `before` was read at); returns the stored position."""
        return self._positions.save_position(replace(after, version=before.version))

    # --- open ---------------------------------------------------------------------------------------------

    def preflight(self, state: State) -> State:
        self._stage(state, "preflight", StageStatus.RUNNING)
        switch = self._kill_switch.kill_switch()
        if switch is not KillSwitch.OFF:
            raise StepRefused(f"{KILL_SWITCH_REFUSAL}{switch.value}: no new positions")
        position = self._position(state)
        if position.status is not PositionStatus.PENDING:
            raise StepRefused(f"position is {position.status.value}, not pending")
        snapshot = self._rates.latest_snapshot()
        if snapshot is None:
            raise StepRefused("no rates snapshot yet")
        age = (self._clock.now() - snapshot.at).total_seconds()
        if age > self._limits.rates_stale_after_seconds:
            raise StepRefused(f"rates are {age:.0f} s old (limit {self._limits.rates_stale_after_seconds} s)")
        if snapshot.market(position.asset, position.protocol) is None:
            raise StepRefused(f"{position.asset.value} on {position.protocol.display_name} is no longer offered")
        if (depegged := lst_depeg_refusal(position, snapshot, self._rates, self._users,
                                          self._stake_pools)) is not None:
            raise StepRefused(depegged)
        consensus = price_consensus([("Asgard", snapshot.sol_price_usd),
                                     ("Hyperliquid", snapshot.funding.oracle_price)],
                                    self._limits.price_consensus_tolerance)
        if not consensus.agreed:
            raise StepRefused(consensus.explanation)
        self._stage(state, "preflight", StageStatus.DONE,
                    f"SOL {snapshot.funding.oracle_price}; funding {snapshot.funding.funding_hourly}/h")
        return state

    def reserve(self, state: State) -> State:
        """Commit the position's capital: refuse if the user's live exposure would pass their limit.

        The execution name (open-<position id>) already makes this the only open run for the position; the
        conditional save makes a concurrent change to the record fail this step instead of being overwritten.
        """
        self._stage(state, "reserve", StageStatus.RUNNING)
        position = self._position(state)
        live = [p for p in self._positions.list_positions(position.user_id)
                if p.status.is_live and p.position_id != position.position_id]
        exposure = sum((p.target_notional_usd for p in live), Decimal(0)) + position.target_notional_usd
        limit = Decimal(str(state.get("max_exposure_usd", "Infinity")))
        if exposure > limit:
            raise StepRefused(f"live exposure would be ${exposure}, over the limit ${limit}")
        self._check_capital(position)
        self._save(position, replace(position, updated_at=self._clock.now()))
        self._stage(state, "reserve", StageStatus.DONE, f"${position.target_notional_usd} per leg")
        return state

    def _check_capital(self, position: Position) -> None:
        """Free capital at the venues, read again just before any money moves, minus what the user's OTHER
        running opens reserved, must still cover this position (the API and the tick checked it at the start)."""
        if self._capital is None or self._users is None:
            return
        user = self._users.get_user(position.user_id)
        if user is None:
            raise StepRefused(f"user {position.user_id} does not exist")
        others = [p for p in self._positions.list_positions(position.user_id)
                  if p.position_id != position.position_id]
        available = self._capital.free_capital_usd(user) - reserved_capital_usd(others)
        if capital_of(position) > available:
            raise StepRefused(f"${capital_of(position):.2f} needed, ${max(available, Decimal(0)):.2f} free after "
                              "what running opens reserved")

    def _refuse_if_killed(self) -> None:
        """Re-read the kill switch past its cache before adding exposure: close-all or no-new-positions flipped
        mid-open sends the execution to Unwind at once."""
        switch = self._kill_switch.kill_switch(fresh=True)
        if switch is not KillSwitch.OFF:
            raise StepRefused(f"{KILL_SWITCH_REFUSAL}{switch.value}: no new exposure")

    def _open_ended(self, position: Position, *, failed: bool) -> None:
        """The open is over: free the user's lock; a failed open backs automatic opens off, a success resets."""
        if self._guard is None:
            return
        self._guard.release_open(position.user_id, position.position_id)
        if failed:
            self._guard.record_open_failure(position.user_id, OPEN_BACKOFF_BASE, OPEN_BACKOFF_CAP)
        elif position.status is PositionStatus.OPEN:
            self._guard.clear_open_failures(position.user_id)

    def open_long(self, state: State) -> State:
        self._stage(state, "open_long", StageStatus.RUNNING)
        self._refuse_if_killed()
        position = self._position(state)
        fill = None if position.long_leg else self._long.find_long(position.user_id, position.position_id)
        if position.long_leg is None and fill is None:
            fill = self._long.open_long(LongOpenRequest(
                user_id=position.user_id, position_id=position.position_id, asset=position.asset,
                protocol=int(position.protocol), collateral_usd=position.target_notional_usd / position.leverage,
                leverage=position.leverage))
        if fill is not None:
            leg = Leg("asgard", fill.size, fill.entry_price_usd, fill.notional_usd.quantize(CENT),
                      fill.fees_usd.quantize(CENT), fill.reference)
            position = self._save(position, replace(position, long_leg=leg, updated_at=self._clock.now()))
        assert position.long_leg is not None
        self._stage(state, "open_long", StageStatus.DONE,
                    f"{position.long_leg.size:.4f} {position.asset.value} at ${position.long_leg.entry_price:,.2f}")
        return state

    def open_short(self, state: State) -> State:
        self._stage(state, "open_short", StageStatus.RUNNING)
        self._refuse_if_killed()
        position = self._position(state)
        if position.long_leg is None:
            raise StepRefused("no long leg to hedge")
        fill = None if position.short_leg else self._short.find_short(position.user_id, position.position_id)
        if position.short_leg is None and fill is None:
            # Hedge what the long actually bought, in SOL terms, at Hyperliquid's price.
            price = self._funding.sol_funding().mark_price
            size_sol = (position.long_leg.notional_usd / price).quantize(SOL_SIZE_STEP, rounding=ROUND_DOWN)
            fill = self._short.open_short(position.user_id, position.position_id, size_sol)
        if fill is not None:
            leg = Leg("hyperliquid", fill.size_sol, fill.average_price_usd,
                      (fill.size_sol * fill.average_price_usd).quantize(CENT), fill.fees_usd.quantize(CENT),
                      fill.reference)
            position = self._save(position, replace(position, short_leg=leg, updated_at=self._clock.now()))
        assert position.short_leg is not None
        self._stage(state, "open_short", StageStatus.DONE,
                    f"{position.short_leg.size:.2f} SOL at ${position.short_leg.entry_price:,.2f}")
        return state

    def validate_fills(self, state: State) -> State:
        self._stage(state, "validate_fills", StageStatus.RUNNING)
        position = self._position(state)
        if position.long_leg is None or position.short_leg is None:
            raise FillMismatch("a leg is missing")
        # the long's SOL exposure: its units at their price in SOL (1 for SOL, the LST/SOL rate for an LST)
        lst_sol_rate = position.long_leg.entry_price / position.short_leg.entry_price
        long_size = position.long_leg.size
        check = validate_fills(long_size, position.short_leg.size, lst_sol_rate=lst_sol_rate,
                               tolerance=self._limits.fill_delta_tolerance)
        if not check.within_tolerance and check.short_adjustment != 0:
            # rebalance the short (one IOC order) rather than unwinding a position that is only off-size
            self._stage(state, "rebalance_short", StageStatus.RUNNING, check.explanation)
            fill = self._short.adjust_short(position.user_id, position.position_id, check.short_adjustment)
            leg = Leg("hyperliquid", fill.size_sol, fill.average_price_usd,
                      (fill.size_sol * fill.average_price_usd).quantize(CENT), fill.fees_usd.quantize(CENT),
                      fill.reference)
            position = self._save(position, replace(position, short_leg=leg, updated_at=self._clock.now()))
            self._stage(state, "rebalance_short", StageStatus.DONE, f"short now {fill.size_sol} SOL")
            self._stage(state, "validate_fills", StageStatus.RUNNING)
            check = validate_fills(long_size, leg.size, lst_sol_rate=lst_sol_rate,
                                   tolerance=self._limits.fill_delta_tolerance)
        if not check.within_tolerance:
            raise FillMismatch(check.explanation)
        self._stage(state, "validate_fills", StageStatus.DONE, check.explanation)
        return state

    def mark_open(self, state: State) -> State:
        position = self._position(state)
        now = self._clock.now()
        opened = self._save(position, position.moved_to(PositionStatus.OPEN, now))
        self._open_ended(opened, failed=False)
        job = self._job(state).with_stage("open", StageStatus.DONE, now)
        self._jobs.put_job(job.finished(JobStatus.SUCCEEDED, now))
        if self._journal is not None:
            self._journal.opened(opened)
        return state

    def unwind(self, state: State) -> State:
        """Compensation: close whatever this position opened, the LONG FIRST (the leg that can fail for longer:
        Asgard, Solana, Privy signing), then exactly this position's short. If the long cannot be closed this
        raises before the short is touched: the exposure stays hedged and the position goes to needs_attention.
        An ambiguous Asgard submit is resolved first: `find_long` raises (retried) while the long may still land,
        and a long that landed late is closed here like any other."""
        progress = _unwind_stage(self._job(state))
        long_done = progress is not None and progress.detail.startswith(_UNWIND_LONG_HALF_DONE)
        if not long_done:  # a retry after the long's half keeps the job saying the long is closed
            self._stage(state, "unwind", StageStatus.RUNNING, _error_text(state))
        position = self._position(state)
        found = self._long.find_long(position.user_id, position.position_id)
        long_proceeds = self._long.close_long(position.user_id, position.position_id)
        had_long = (position.long_leg is not None or found is not None
                    or (progress is not None and progress.detail.startswith(_UNWIND_LONG_CLOSED)))
        # how far the unwind got, on the job: a failure from here on is the short's (`_open_unwind_reason`)
        self._stage(state, "unwind", StageStatus.RUNNING,
                    f"{_UNWIND_LONG_CLOSED if had_long else _UNWIND_NO_LONG}; closing the short")
        short_size = self._short_size(position)
        short_pnl = self._short.close_short(position.user_id, position.position_id, short_size)
        state["unwound"] = {"short_pnl_usd": str(short_pnl), "long_proceeds_usd": str(long_proceeds)}
        closed = " and ".join(leg for leg, held in (("the long", had_long), ("the short", short_size > 0)) if held)
        self._stage(state, "unwind", StageStatus.DONE,
                    f"{closed} {'were' if ' and ' in closed else 'was'} closed, no leg is open" if closed
                    else "nothing was open, no leg is open")
        if self._alerts is not None:
            self._alerts.alert("unwind", f"open of {position.position_id} unwound: {_error_text(state)}",
                               user_id=position.user_id, position_id=position.position_id,
                               detail={"long_proceeds_usd": long_proceeds, "short_pnl_usd": short_pnl})
        if self._journal is not None:
            self._journal.unwound(position, _error_text(state))
        return state

    def mark_failed(self, state: State) -> State:
        position = self._position(state)
        now = self._clock.now()
        reason = _error_text(state)
        failed = self._save(position, position.moved_to(PositionStatus.FAILED, now, failure=reason))
        # the operator's kill switch stopping an open is not a failure to back the user's bot off for
        self._open_ended(failed, failed=position.status is PositionStatus.PENDING
                         and not _refused_by_kill_switch(state))
        self._jobs.put_job(self._job(state).finished(JobStatus.FAILED, now, reason))
        if self._journal is not None:
            unwound = state.get("unwound")
            self._journal.failed(failed, reason, unwound,
                                 self._closing_fees(failed) if unwound is not None else Decimal(0))
        return state

    def mark_needs_attention(self, state: State) -> State:
        """Compensation itself failed (a leg may be naked), or a close stopped before closing any leg (both legs
        open, hedged: `_needs_attention_reason`). Recorded loudly for the operator's runbook."""
        position = self._position(state)
        now = self._clock.now()
        reason = _needs_attention_reason(position, self._job(state), state, self._limits.fill_delta_tolerance)
        flagged = self._save(position, position.moved_to(PositionStatus.NEEDS_ATTENTION, now, failure=reason))
        if self._alerts is not None:
            self._alerts.alert("needs_attention", f"position {position.position_id}: {reason}",
                               user_id=position.user_id, position_id=position.position_id,
                               detail={"was": position.status.value})
        self._open_ended(flagged, failed=position.status is PositionStatus.PENDING)
        self._jobs.put_job(self._job(state).finished(JobStatus.FAILED, now, reason))
        if self._journal is not None:
            self._journal.needs_attention(flagged, reason)
        return state

    # --- close ---------------------------------------------------------------------------------------------

    def close_preflight(self, state: State) -> State:
        self._stage(state, "close_preflight", StageStatus.RUNNING)
        position = self._position(state)
        if position.status is PositionStatus.CLOSED:
            raise StepRefused("already closed")
        if position.status is not PositionStatus.CLOSING:
            position = self._save(position, position.moved_to(
                PositionStatus.CLOSING, self._clock.now(), close_reason=state.get("reason")))
        # The long goes first: it is the leg that can fail for longer (Asgard, Solana, Privy signing). If it cannot
        # close, the short is still there and the position rests hedged in needs_attention; a long never rests
        # without its short.
        state["close_order"] = state.get("close_order", "long_first")
        self._stage(state, "close_preflight", StageStatus.DONE, state["close_order"].replace("_", " "))
        return state

    def close_short(self, state: State) -> State:
        position = self._position(state)
        size = self._short_size(position)
        return self._close_leg(state, "close_short", "short_pnl_usd",
                               lambda user_id, position_id: self._short.close_short(user_id, position_id, size),
                               "short PnL")

    def _short_size(self, position: Position) -> Decimal:
        """This position's own short: its ledger leg, or (a short whose answer was lost before the ledger write)
        what the venue reports for this position. Never the account's net."""
        if position.short_leg is not None:
            return position.short_leg.size
        found = self._short.find_short(position.user_id, position.position_id)
        return found.size_sol if found is not None else Decimal(0)

    def close_long(self, state: State) -> State:
        return self._close_leg(state, "close_long", "long_proceeds_usd", self._long.close_long, "long returned")

    def _close_leg(self, state: State, stage: str, result_key: str, close: Callable[[str, str], Decimal],
                   label: str) -> State:
        self._stage(state, stage, StageStatus.RUNNING)
        position = self._position(state)
        state[result_key] = str(close(position.user_id, position.position_id).quantize(CENT))
        self._stage(state, stage, StageStatus.DONE, f"{label} ${state[result_key]}")
        return state

    def reconcile(self, state: State) -> State:
        self._stage(state, "reconcile", StageStatus.RUNNING)
        position = self._position(state)
        still_open = [venue for venue, found in (
            ("hyperliquid", self._short.find_short(position.user_id, position.position_id)),
            ("asgard", self._long.find_long(position.user_id, position.position_id))) if found is not None]
        if still_open:
            raise LegsStillOpen(f"still open at {', '.join(still_open)}")
        self._stage(state, "reconcile", StageStatus.DONE, "both venues flat")
        return state

    def mark_closed(self, state: State) -> State:
        """Realized PnL = what the long returned - the collateral it took + the short's closing PnL - its
        opening fee + the funding it collected while open."""
        position = self._position(state)
        now = self._clock.now()
        funding = self._short.funding_usd(position.user_id, position.position_id, position.created_at)
        realized = position_pnl_usd(
            long_proceeds_usd=Decimal(state.get("long_proceeds_usd", "0")),
            long_collateral_usd=position.long_collateral_usd, rebalanced_cash_usd=position.rebalanced_cash_usd,
            short_pnl_usd=Decimal(state.get("short_pnl_usd", "0")),
            short_open_fee_usd=position.short_leg.fees_usd if position.short_leg else Decimal(0),
            funding_usd=funding).quantize(CENT)
        closing_fees = self._closing_fees(position) if self._journal is not None else Decimal(0)
        closed = self._save(position, position.moved_to(PositionStatus.CLOSED, now, realized_pnl_usd=realized))
        job = self._job(state).with_stage("closed", StageStatus.DONE, now,
                                          f"realized ${realized} (funding ${funding.quantize(CENT)})")
        self._jobs.put_job(job.finished(JobStatus.SUCCEEDED, now))
        if self._journal is not None:
            self._journal.closed(closed, realized, funding, closing_fees)
        return state

    def _closing_fees(self, position: Position) -> Decimal:
        """What both legs' closes paid the venues (inside the proceeds the realized PnL already counts): the split's
        fees part. Unreadable: 0 and a warning (the split is for display; the realized total does not use it)."""
        try:
            return (self._long.long_closing_fees_usd(position.user_id, position.position_id)
                    + self._short.short_closing_fees_usd(position.user_id, position.position_id))
        except Exception as error:  # any venue failure: the split shows the closing fees inside price
            logger.warning("closing fees of %s unreadable: %s", position.position_id, error)
            return Decimal(0)


# Error names after which a leg's order may have been sent and may still land (a lost answer, a task or function
# that timed out mid-call): nothing can then be said of what is open.
_MAY_HAVE_TRADED = ("AmbiguousVenueError", "LongMayStillLand")
_CLOSE_LEG_STAGES = {"close_long": "the Asgard long could not be closed",
                     "close_short": "the Hyperliquid short could not be closed"}
# The unwind's progress on its job stage (`unwind`): the long's half is over, the short is next.
_UNWIND_LONG_CLOSED = "the long is closed"
_UNWIND_NO_LONG = "no long was open"
_UNWIND_LONG_HALF_DONE = (_UNWIND_LONG_CLOSED, _UNWIND_NO_LONG)
_NAKED_PREFIX = "compensation failed, a leg may be open: "


def _needs_attention_reason(position: Position, job: Job, state: State, tolerance: Decimal) -> str:
    """What is true at the venues when a workflow ends in needs_attention. A close records each leg it closed in
    its state (`long_proceeds_usd`, `short_pnl_usd`); one that closed neither, and failed with an error saying
    nothing was sent (a refusal, a venue down), kept the hedge on purpose (the long goes first: if it cannot
    close, the short is not touched), so both legs are open and hedged. Anything else may have left a leg
    without its hedge."""
    error = state.get("error")
    name = str(error.get("Error", "")) if isinstance(error, dict) else ""
    closed_a_leg = "long_proceeds_usd" in state or "short_pnl_usd" in state
    may_have_traded = name in _MAY_HAVE_TRADED or name.startswith(("States.", "Lambda."))
    if job.kind is JobKind.OPEN:
        return _open_unwind_reason(position, job, state, may_have_traded, tolerance)
    if (job.kind is JobKind.CLOSE and not closed_a_leg and not may_have_traded
            and position.long_leg is not None and position.short_leg is not None):
        failed = job.stages[-1].name if job.stages and job.stages[-1].status is StageStatus.RUNNING else ""
        what = _CLOSE_LEG_STAGES.get(failed, "no leg was closed")
        return f"close incomplete: {what}; both legs are still open and hedged: {_error_text(state)}"
    return _NAKED_PREFIX + _error_text(state)


def _unwind_stage(job: Job) -> Stage | None:
    """The open's `unwind` stage, if it is the job's latest."""
    return job.stages[-1] if job.stages and job.stages[-1].name == "unwind" else None


def _open_unwind_reason(position: Position, job: Job, state: State, may_have_traded: bool,
                        tolerance: Decimal) -> str:
    """An open's Unwind ended in needs_attention; its job stage says how far it got (`unwind`). Done: every leg
    was closed and only what followed failed. Stopped before the long's half, by an error saying nothing was sent,
    with both ledger legs: the long goes first, so the short was kept: both legs are open, hedged (or, after a
    fill mismatch, hedged only in part). Anything else (the long closed and the short not, a call that may still
    land, a leg the ledger lacks) may have left a leg without its hedge."""
    unwind = _unwind_stage(job)
    error = _error_text(state)
    if unwind is None:
        return _NAKED_PREFIX + error
    if unwind.status is StageStatus.DONE:
        return f"open unwound: {unwind.detail}; what followed failed: {error}"
    if unwind.detail.startswith(_UNWIND_LONG_HALF_DONE):
        long_half = unwind.detail.split(";")[0]
        short_half = "may not have been closed" if may_have_traded else "could not be closed"
        return f"{_NAKED_PREFIX}{long_half}, the Hyperliquid short {short_half}: {error}"
    if may_have_traded:
        return _NAKED_PREFIX + error
    long, short = position.long_leg, position.short_leg
    if long is None or short is None:
        return _NAKED_PREFIX + error
    check = validate_fills(long.size, short.size, lst_sol_rate=long.entry_price / short.entry_price,
                           tolerance=tolerance)
    if not check.within_tolerance:
        return (f"compensation failed, the long is hedged only in part: the Asgard long could not be closed; "
                f"its short is {short.size} SOL against {check.long_sol:.4f} SOL: {error}")
    return ("open unwind incomplete: the Asgard long could not be closed; both legs are still open and hedged: "
            + error)


def _refused_by_kill_switch(state: State) -> bool:
    """The open was stopped by the operator's kill switch (Preflight or a step adding exposure refused it)."""
    error = state.get("error")
    return (isinstance(error, dict) and error.get("Error") == "StepRefused"
            and _error_text(state).startswith(f"StepRefused: {KILL_SWITCH_REFUSAL}"))


def _error_text(state: State) -> str:
    """The Catch'ed error as one readable line (Step Functions puts {Error, Cause} at $.error)."""
    error = state.get("error")
    if not isinstance(error, dict):
        return ""
    cause = error.get("Cause", "")
    try:
        message = json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        message = cause
    return f"{error.get('Error', 'Error')}: {message}".strip()


