"""An in-place rebalance: a position drifting toward either liquidation shrinks both legs by the same SOL amount
instead of closing (dnbot.domain.rebalance sizes it; docs/architecture.md, "Rebalance in place").

The strategy worker runs it for a `Rebalance` decision (and resumes one left in flight). Safety, as for opens and
closes:
- Started by a versioned conditional write that records the intent on the position (`rebalancing`, numbered by
  `rebalances`): two workers cannot both start one, and the number names its venue orders, so a retry (a
  redelivered message, a crash after a venue answered) never trades twice: the short's orders carry the cloids
  `rebalance-<n>` / `restore-<n>`, the long's deleverage is sent only while Asgard lists no update after the one
  counted at the start.
- The short first (Hyperliquid answers in a second; on a short drifting toward liquidation it is the urgent
  half), then the long's deleverage. If the long's half fails, the short is sold back (`restore-<n>`): the legs
  are as before, equal. If that fails too, the position goes to needs_attention with an alert (the long is then
  larger than its short, never the reverse: no naked short, and the reconciler restores the hedge).
- A lost answer (either venue) leaves the intent on the position: the next tick resumes it; the reconciler skips
  a position whose rebalance is in flight.
- At the end the ledger legs take the venues' new sizes, one activity event tells the trader, and a failure
  alerts the operator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from decimal import Decimal

from dnbot.domain.positions import Position, PositionStatus, RebalanceInFlight
from dnbot.domain.rebalance import CannotRebalance, LegsNow, RebalanceSize, maintenance_rate_from, size_rebalance
from dnbot.ports import (
    ActivityLog,
    AlertSink,
    AmbiguousVenueError,
    Clock,
    LongDeleverager,
    LongState,
    PositionConflict,
    PositionStore,
    ShortResizer,
    StepFill,
    TransientVenueError,
)

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
SAVE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class RebalanceOutcome:
    status: str  # rebalanced | not_needed | cannot | in_flight | failed | needs_attention | skipped
    detail: str
    reduce_sol: Decimal = Decimal(0)


def _may_still_land(error: Exception) -> bool:
    """Sent, no answer, may still land: AmbiguousVenueError, or the Asgard adapter's LongMayStillLand (matched
    by name: the service does not import the Solana-side adapter)."""
    return isinstance(error, AmbiguousVenueError) or type(error).__name__ == "LongMayStillLand"


class PositionRebalancer:
    def __init__(self, positions: PositionStore, long_venue: LongDeleverager, short_venue: ShortResizer,
                 clock: Clock, activity: ActivityLog | None = None, alerts: AlertSink | None = None) -> None:
        self._positions = positions
        self._long = long_venue
        self._short = short_venue
        self._clock = clock
        self._activity = activity
        self._alerts = alerts

    # --- sizing ------------------------------------------------------------------------------------------

    def size(self, position: Position, target_distance: Decimal) -> tuple[RebalanceSize, LongState]:
        """What the venues say now, sized (raises CannotRebalance when no in-place reduction restores it)."""
        if position.short_leg is None or position.long_leg is None:
            raise CannotRebalance("a leg is missing")
        long = self._long.long_state(position.user_id, position.position_id)
        margin = self._short.short_margin(position.user_id)
        if long is None or margin.short_sol <= 0 or margin.price_usd <= 0:
            raise CannotRebalance("a leg is not at its venue")
        if margin.liquidation_price_usd is None or margin.liquidation_price_usd <= 0:
            raise CannotRebalance("Hyperliquid reports no liquidation price for the short")
        rate = maintenance_rate_from(margin.account_value_usd, margin.short_sol, margin.price_usd,
                                     margin.liquidation_price_usd)
        legs = LegsNow(long_value_usd=long.value_usd, long_debt_usd=long.debt_usd,
                       long_liquidation_threshold=long.liquidation_threshold,
                       long_sol=long.value_usd / margin.price_usd, account_value_usd=margin.account_value_usd,
                       account_short_sol=margin.short_sol, maintenance_rate=rate, sol_price_usd=margin.price_usd,
                       position_short_sol=position.short_leg.size)
        return size_rebalance(legs, target_distance), long

    # --- the rebalance -----------------------------------------------------------------------------------

    def rebalance(self, user_id: str, position_id: str, reason: str, target_distance: Decimal) -> RebalanceOutcome:
        """Start a rebalance of this open position (or resume the one in flight)."""
        position = self._positions.get_position(user_id, position_id)
        if position is None or position.status is not PositionStatus.OPEN:
            return RebalanceOutcome("skipped", "the position is not open")
        if position.rebalancing is not None:
            return self._carry_out(position, position.rebalancing)
        try:
            sized, long = self.size(position, target_distance)
        except CannotRebalance as error:
            return RebalanceOutcome("cannot", str(error))
        if sized.reduce_sol <= 0:
            return RebalanceOutcome("not_needed", sized.explanation)
        percentage = None if sized.close_percentage is None else sized.close_percentage.quantize(Decimal("0.0001"))
        intent = RebalanceInFlight(position.rebalances + 1, sized.reduce_sol, sized.target_leverage.quantize(
            Decimal("0.0001")), long.update_count, self._clock.now(), f"{reason}; {sized.explanation}", percentage,
            long.value_usd - long.debt_usd)
        try:
            position = self._positions.save_position(replace(
                position, rebalancing=intent, rebalances=intent.number, updated_at=self._clock.now()))
        except PositionConflict:
            return RebalanceOutcome("skipped", "another writer changed the position first")
        return self._carry_out(position, intent)

    def resume(self, position: Position) -> RebalanceOutcome:
        if position.rebalancing is None:
            return RebalanceOutcome("skipped", "no rebalance in flight")
        return self._carry_out(position, position.rebalancing)

    def _carry_out(self, position: Position, intent: RebalanceInFlight) -> RebalanceOutcome:
        user_id, position_id, n = position.user_id, position.position_id, intent.number
        if self._short.step_filled(user_id, position_id, f"restore-{n}").size_sol > 0:
            return self._undone(position, intent, "its short was restored earlier")
        try:
            reduced = self._short.resize_short(user_id, position_id, -intent.reduce_sol, f"rebalance-{n}")
        except Exception as error:  # the venue's answer decides: nothing traded, or unknown yet
            if _may_still_land(error):
                return RebalanceOutcome("in_flight", f"the short's buy-back may still fill: {error}")
            return self._undone(position, intent, f"Hyperliquid refused the buy-back: {error}")
        try:
            long = self._long.shrink_long(user_id, position_id, target_leverage=intent.target_leverage,
                                          close_percentage=intent.close_percentage,
                                          updates_before=intent.long_updates_before)
        except Exception as error:
            if _may_still_land(error):
                return RebalanceOutcome("in_flight", f"the long's update may still land: {error}")
            return self._restore(position, intent, reduced, error)
        return self._finish(position, intent, long, reduced)

    def _restore(self, position: Position, intent: RebalanceInFlight, reduced: StepFill,
                 cause: Exception) -> RebalanceOutcome:
        """The long's half failed: sell back what the short bought, so both legs are as before."""
        try:
            self._short.resize_short(position.user_id, position.position_id, reduced.size_sol,
                                     f"restore-{intent.number}")
        except Exception as error:
            if _may_still_land(error) or isinstance(error, TransientVenueError):
                return RebalanceOutcome("in_flight", f"restoring the short: {error} (retried next tick)")
            return self._needs_attention(position, intent, f"the long's update failed ({cause}) and the short "
                                                           f"could not be restored ({error})")
        return self._undone(position, intent, f"Asgard's update failed ({cause}); the short was restored")

    # --- records -----------------------------------------------------------------------------------------

    def _save(self, position: Position, change: dict[str, object]) -> Position:
        """Apply `change` to the stored position (re-read on a conflict: the venues' sizes are the truth)."""
        current = position
        for attempt in range(SAVE_ATTEMPTS):
            try:
                return self._positions.save_position(replace(current, updated_at=self._clock.now(),
                                                             **change))  # type: ignore[arg-type]
            except PositionConflict:
                fresh = self._positions.get_position(position.user_id, position.position_id)
                if fresh is None or attempt == SAVE_ATTEMPTS - 1:
                    raise
                current = fresh
        raise AssertionError("unreachable")

    def _finish(self, position: Position, intent: RebalanceInFlight, long: LongState,
                reduced: StepFill) -> RebalanceOutcome:
        assert position.long_leg is not None and position.short_leg is not None
        own = self._short.find_short(position.user_id, position.position_id)
        short_size = own.size_sol if own is not None else Decimal(0)
        long_leg = replace(position.long_leg, size=long.size,
                           notional_usd=(long.size * position.long_leg.entry_price).quantize(CENT))
        short_leg = replace(position.short_leg, size=short_size,
                            notional_usd=(short_size * position.short_leg.entry_price).quantize(CENT))
        # a deleverage keeps the long's equity in it; a partial close of f pays out f / (1 - f) of what stays
        paid_out = Decimal(0)
        if intent.close_percentage is not None and intent.close_percentage < 100:
            fraction = intent.close_percentage / 100
            paid_out = (long.value_usd - long.debt_usd) * fraction / (1 - fraction)
        cash = (position.rebalance_cash_usd + paid_out + reduced.realized_usd).quantize(CENT)
        collateral = (position.rebalance_collateral_usd
                      + (position.long_leg.notional_usd - long_leg.notional_usd) / position.leverage).quantize(CENT)
        saved = self._save(position, {"long_leg": long_leg, "short_leg": short_leg, "rebalancing": None,
                                      "rebalance_cash_usd": cash, "rebalance_collateral_usd": collateral})
        detail = (f"both legs -{intent.reduce_sol} SOL: long {long.size} {position.asset.value} at "
                  f"{intent.target_leverage}x, short {short_size} SOL")
        if self._activity is not None:
            self._activity.record(saved.user_id, "position_rebalanced",
                                  f"Rebalanced {position.asset.value} in place: {detail} ({intent.reason}).",
                                  saved.position_id, reduce_sol=str(intent.reduce_sol),
                                  target_leverage=str(intent.target_leverage), number=intent.number)
        return RebalanceOutcome("rebalanced", detail, intent.reduce_sol)

    def _undone(self, position: Position, intent: RebalanceInFlight, why: str) -> RebalanceOutcome:
        fresh = self._positions.get_position(position.user_id, position.position_id) or position
        # a buy-back sold back again costs its fees (and whatever the price did in between): kept with the rest
        traded = sum((self._short.step_filled(position.user_id, position.position_id, f"{step}-{intent.number}")
                      .realized_usd for step in ("rebalance", "restore")), Decimal(0))
        self._save(fresh, {"rebalancing": None,
                           "rebalance_cash_usd": (fresh.rebalance_cash_usd + traded).quantize(CENT)})
        text = f"rebalance {intent.number} of {position.position_id} not done, legs unchanged: {why}"
        logger.warning(text)
        if self._alerts is not None:
            self._alerts.alert("rebalance_failed", text, user_id=position.user_id, position_id=position.position_id,
                               detail={"reduce_sol": intent.reduce_sol, "number": intent.number})
        if self._activity is not None:
            self._activity.record(position.user_id, "rebalance_failed",
                                  f"Could not rebalance {position.asset.value} in place ({why}); both legs are "
                                  "unchanged.", position.position_id)
        return RebalanceOutcome("failed", why)

    def _needs_attention(self, position: Position, intent: RebalanceInFlight, why: str) -> RebalanceOutcome:
        fresh = self._positions.get_position(position.user_id, position.position_id) or position
        reason = f"rebalance {intent.number}: {why}"
        flagged = fresh.moved_to(PositionStatus.NEEDS_ATTENTION, self._clock.now(), failure=reason)
        self._save(fresh, {"status": flagged.status, "failure": reason, "rebalancing": None})
        if self._alerts is not None:
            self._alerts.alert("needs_attention", f"position {position.position_id}: {reason}",
                               user_id=position.user_id, position_id=position.position_id,
                               detail={"was": "open", "reduce_sol": intent.reduce_sol})
        if self._activity is not None:
            self._activity.record(position.user_id, "needs_attention",
                                  f"{position.asset.value} needs an operator: {reason}.", position.position_id)
        return RebalanceOutcome("needs_attention", reason)
