"""An in-place rebalance: a position drifting toward either liquidation shrinks both legs by the same SOL amount
instead of closing (dnbot.domain.rebalance sizes it; docs/architecture.md, "Rebalance in place").

The strategy worker only STARTS it: the rebalance state machine (workflows/definitions.py,
rebalance_position_definition, execution `rebalance-<position id>-<n>`) runs these steps in the position_steps
function, the one that signs (`PositionRebalancer.steps()`). Safety, as for opens and closes:
- Started by a versioned conditional write that records the intent on the position (`rebalancing`, numbered by
  `rebalances`): two executions cannot both start one, and the number names its venue orders, so a retried step
  (a lost answer, a Lambda timeout) never trades twice: the short's orders carry the cloids `rebalance-<n>` /
  `restore-<n>`, the long's deleverage is sent only while Asgard lists no update after the one counted at the
  start.
- The short first (Hyperliquid answers in a second; on a short drifting toward liquidation it is the urgent
  half), then the long's deleverage. If the long's half fails, the short is sold back (`restore-<n>`): the legs
  are as before, equal, and the position closes instead (a close message on the fan-out queue: the worker starts
  it). If the restore fails too, the position goes to needs_attention with an alert (the long is then larger than
  its short, never the reverse: no naked short, and the reconciler restores the hedge).
- A lost answer (either venue) is retried by the state machine (`RebalanceLegPending`, a TransientVenueError):
  the retry asks the venue what the first attempt did. The reconciler skips a position whose rebalance is in
  flight.
- At the end the ledger legs take the venues' new sizes, one activity event tells the trader, and a failure
  alerts the operator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from dnbot.domain.pnl import CENT
from dnbot.domain.positions import Position, PositionStatus, RebalanceInFlight
from dnbot.domain.rebalance import CannotRebalance, LegsNow, RebalanceSize, maintenance_rate_from, size_rebalance
from dnbot.ports import (
    ActivityLog,
    AlertSink,
    AmbiguousVenueError,
    Clock,
    KillSwitchReader,
    LongDeleverager,
    LongState,
    PositionConflict,
    PositionStore,
    ShortResizer,
    StepFill,
    TransientVenueError,
    WorkQueue,
)
from dnbot.resources import KillSwitch
from dnbot.services.bridge_rebalance import BridgeRebalancing, bridge_intent
from dnbot.services.position_steps import _error_text

logger = logging.getLogger(__name__)

SAVE_ATTEMPTS = 3
SHRINK = "shrink"  # the execution state's `method`: shrink | to_long | to_short (a bridge rebalance)


State = dict[str, Any]


class RebalanceLegPending(TransientVenueError):
    """A half's order was sent and its answer lost: the state machine retries the step, and the retry asks the
    venue what the first attempt did (the cloid `rebalance-<n>` / `restore-<n>`, Asgard's update count)."""


class RebalanceNotInFlight(Exception):
    """A trading step of a rebalance found no intent on the position (a bug, or an operator's edit)."""


class RestoreFailed(Exception):
    """The long's half failed and the short could not be sold back: the position needs an operator."""


def _may_still_land(error: Exception) -> bool:
    """Sent, no answer, may still land: AmbiguousVenueError, or the Asgard adapter's LongMayStillLand (matched
    by name: the service does not import the Solana-side adapter)."""
    return isinstance(error, AmbiguousVenueError) or type(error).__name__ == "LongMayStillLand"


class PositionRebalancer:
    def __init__(self, positions: PositionStore, long_venue: LongDeleverager, short_venue: ShortResizer,
                 clock: Clock, activity: ActivityLog | None = None, alerts: AlertSink | None = None,
                 kill_switch: KillSwitchReader | None = None, closes: WorkQueue | None = None,
                 bridge: BridgeRebalancing | None = None) -> None:
        """`closes`: the fan-out queue; a rebalance that cannot be done asks the strategy worker for the close
        it replaced (the steps do not start workflows). `kill_switch`: close-all refuses a new rebalance.
        `bridge`: USDC moved between the venues when that restores the distance (services/bridge_rebalance.py);
        None: every rebalance shrinks."""
        self._bridge = bridge
        self._kill_switch = kill_switch
        self._closes = closes
        self._positions = positions
        self._long = long_venue
        self._short = short_venue
        self._clock = clock
        self._activity = activity
        self._alerts = alerts

    # --- sizing ------------------------------------------------------------------------------------------

    def size(self, position: Position, target_distance: Decimal) -> tuple[RebalanceSize, LongState]:
        """What the venues say now, sized (raises CannotRebalance when no in-place reduction restores it)."""
        legs, long = self.legs_now(position)
        return size_rebalance(legs, target_distance), long

    def legs_now(self, position: Position) -> tuple[LegsNow, LongState]:
        """Both legs as the venues report them now (raises CannotRebalance when one cannot be read)."""
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
        return legs, long

    def _intent(self, number: int, sized: RebalanceSize, long: LongState, reason: str) -> RebalanceInFlight:
        percentage = None if sized.close_percentage is None else sized.close_percentage.quantize(Decimal("0.0001"))
        return RebalanceInFlight(number, sized.reduce_sol, sized.target_leverage.quantize(Decimal("0.0001")),
                                 long.update_count, self._clock.now(), f"{reason}; {sized.explanation}", percentage,
                                 long.value_usd - long.debt_usd, long.debt_usd, long.size)

    # --- the state machine's steps (position_steps; workflows/definitions.py, rebalance_position_definition) ----

    def steps(self) -> dict[str, Callable[[State], State]]:
        """The rebalance workflow's steps by name. Each takes the execution state {user_id, position_id, number,
        reason, target_distance} and returns it; `outcome` routes the state machine's Choice states."""
        steps: dict[str, Callable[[State], State]] = {
            "rebalance_preflight": self.preflight_step, "rebalance_short": self.short_step,
            "rebalance_long": self.long_step, "mark_rebalanced": self.mark_rebalanced_step,
            "rebalance_restore": self.restore_step, "rebalance_close_instead": self.close_instead_step,
            "rebalance_needs_attention": self.needs_attention_step,
            "rebalance_fallback_shrink": self.fallback_shrink_step}
        if self._bridge is not None:
            steps.update(self._bridge.steps())
        return steps

    @staticmethod
    def _ended(state: State, outcome: str, detail: str) -> State:
        state["outcome"], state["detail"] = outcome, detail
        return state

    def preflight_step(self, state: State) -> State:
        """Kill switch (read past its cache), the position OPEN, then the versioned write recording rebalance
        number `number` (a PositionConflict is retried: the re-read finds the intent and resumes it)."""
        if self._kill_switch is not None:
            switch = self._kill_switch.kill_switch(fresh=True)
            if switch is KillSwitch.CLOSE_ALL:
                return self._ended(state, "refused", "kill switch is close-all: the position closes instead")
        number = int(state["number"])
        position = self._positions.get_position(state["user_id"], state["position_id"])
        if position is None or position.status is not PositionStatus.OPEN:
            return self._ended(state, "refused", "the position is not open")
        if position.rebalancing is None and not position.protocol.rebalances_in_place:
            # nothing is traded or moved: Asgard would refuse the long's half after the short's had traded
            return self._ended(state, "cannot", f"Asgard cannot re-centre a {position.protocol.display_name} long "
                               "in place (its position updates exist on Kamino and Drift only)")
        if position.rebalancing is not None:
            if position.rebalancing.number != number:
                return self._ended(state, "refused", f"rebalance {position.rebalancing.number} is in flight")
            state["method"] = position.rebalancing.bridge or SHRINK
            return self._ended(state, "started", f"resuming rebalance {number}")
        if position.rebalances >= number:
            return self._ended(state, "done", f"rebalance {number} already ended")
        if number != position.rebalances + 1:
            return self._ended(state, "refused", f"rebalance {number} is not the next ({position.rebalances + 1})")
        target = Decimal(str(state["target_distance"]))
        try:
            legs, long = self.legs_now(position)
            plan = self._bridge.plan(legs, target) if self._bridge is not None else None
            if plan is not None:  # USDC moved between the venues restores it: less (or nothing) is shrunk
                intent = bridge_intent(number, plan, legs, long, self._clock.now(), str(state.get("reason", "")))
                self._positions.save_position(replace(position, rebalancing=intent, rebalances=number,
                                                      updated_at=self._clock.now()))
                state["method"] = plan.direction
                return self._ended(state, "started", intent.reason)
            sized = size_rebalance(legs, target)
        except CannotRebalance as error:
            return self._ended(state, "cannot", str(error))
        if sized.reduce_sol <= 0:
            return self._ended(state, "not_needed", sized.explanation)
        state["method"] = SHRINK
        intent = self._intent(number, sized, long, str(state.get("reason", "")))
        self._positions.save_position(replace(position, rebalancing=intent, rebalances=number,
                                              updated_at=self._clock.now()))
        return self._ended(state, "started", intent.reason)

    def fallback_shrink_step(self, state: State) -> State:
        """A bridge rebalance that could not move the USDC (a venue refused, the burn can never land, the bridge
        ran out of retries): the same rebalance (same number) shrinks both legs instead, sized now. A transfer
        that was only planned is abandoned (its USDC is then the sweep's again); one further along stays on its
        record, which says where its USDC is."""
        position, intent = self._in_flight(state)
        cause = _error_text(state) or "the bridge could not move the USDC"
        if self._bridge is not None:
            self._bridge.abandon_if_planned(position.user_id, state.get("transfer_id"), f"fell back: {cause}")
        if self._alerts is not None:  # the position is protected by the shrink; where the USDC is, its record says
            self._alerts.alert("bridge_failed", f"rebalance {intent.number} of {position.position_id}: the bridge "
                               f"could not move the USDC ({cause}); shrinking instead", user_id=position.user_id,
                               position_id=position.position_id, detail={"transfer_id": state.get("transfer_id")})
        try:
            sized, long = self.size(position, Decimal(str(state["target_distance"])))
        except CannotRebalance as error:
            self._save(position, {"rebalancing": None})
            return self._ended(state, "cannot", f"{cause}; {error}")
        if sized.reduce_sol <= 0:
            self._save(position, {"rebalancing": None})
            return self._ended(state, "not_needed", sized.explanation)
        shrink = self._intent(intent.number, sized, long, f"{intent.reason}; the bridge failed ({cause})")
        self._save(position, {"rebalancing": shrink})
        state["method"] = SHRINK
        return self._ended(state, "started", shrink.reason)

    def _in_flight(self, state: State) -> tuple[Position, RebalanceInFlight]:
        position = self._positions.get_position(state["user_id"], state["position_id"])
        if position is None or position.rebalancing is None or position.rebalancing.number != int(state["number"]):
            raise RebalanceNotInFlight(f"rebalance {state['number']} of {state['position_id']} is not in flight")
        return position, position.rebalancing

    def short_step(self, state: State) -> State:
        """Hyperliquid's reduce-only buy-back under the cloid `rebalance-<n>` (a retry is answered from it)."""
        position, intent = self._in_flight(state)
        try:
            reduced = self._short.resize_short(position.user_id, position.position_id, -intent.reduce_sol,
                                               f"rebalance-{intent.number}")
        except AmbiguousVenueError as error:
            raise RebalanceLegPending(f"the short's buy-back may still fill: {error}") from error
        state["bought_sol"] = str(reduced.size_sol)
        return state

    def long_step(self, state: State) -> State:
        """Asgard's deleverage (or partial close), sent only while the long has no update after the counted one.
        LongMayStillLand (an unanswered submit, its blockhash still valid) is retried as it is."""
        position, intent = self._in_flight(state)
        try:
            landed = self._long.shrink_long(position.user_id, position.position_id,
                                            target_leverage=intent.target_leverage,
                                            close_percentage=intent.close_percentage,
                                            updates_before=intent.long_updates_before)
        except AmbiguousVenueError as error:
            raise RebalanceLegPending(f"the long's update may still land: {error}") from error
        if landed.paid_out_usd is not None:  # Asgard's own figure: what reached the wallet, after its fee
            state["long_paid_out_usd"] = str(landed.paid_out_usd)
        return state

    def mark_rebalanced_step(self, state: State) -> State:
        """The ledger legs take the venues' sizes; the intent is cleared; the trader's activity says so."""
        position = self._positions.get_position(state["user_id"], state["position_id"])
        number = int(state["number"])
        if position is not None and position.rebalancing is None and position.rebalances >= number:
            return self._ended(state, "rebalanced", f"rebalance {number} already recorded")
        position, intent = self._in_flight(state)
        long = self._long.long_state(position.user_id, position.position_id)
        if long is None:
            raise RebalanceNotInFlight(f"Asgard no longer lists the long of {position.position_id}")
        reduced = self._short.step_filled(position.user_id, position.position_id, f"rebalance-{number}")
        paid = state.get("long_paid_out_usd")
        return self._ended(state, "rebalanced", self._finish(position, intent, long, reduced,
                                                             None if paid is None else Decimal(str(paid))))

    def restore_step(self, state: State) -> State:
        """Compensation (a half failed): if the long's update landed after all, finish; else sell back what the
        buy-back bought (`restore-<n>`, once) so both legs are as before, and record the rebalance as not done."""
        position = self._positions.get_position(state["user_id"], state["position_id"])
        if position is None or position.rebalancing is None:
            return self._ended(state, "gone", "no rebalance in flight any more")
        intent, cause = position.rebalancing, _error_text(state) or "a step failed"
        long = self._long.long_state(position.user_id, position.position_id)
        if long is not None and long.update_count > intent.long_updates_before:
            return self._ended(state, "landed", f"the long's update landed after all ({cause})")
        bought = self._short.step_filled(position.user_id, position.position_id, f"rebalance-{intent.number}")
        if bought.size_sol > 0:
            try:
                self._short.resize_short(position.user_id, position.position_id, bought.size_sol,
                                         f"restore-{intent.number}")
            except Exception as error:
                if _may_still_land(error) or isinstance(error, TransientVenueError):
                    raise RebalanceLegPending(f"restoring the short: {error}") from error
                raise RestoreFailed(f"the long's update failed ({cause}) and the short could not be restored "
                                    f"({error})") from error
            why = f"Asgard's update failed ({cause}); the short was restored"
        else:
            why = f"the short's buy-back did not trade ({cause})"
        self._undone(position, intent, why)
        return self._ended(state, "undone", why)

    def close_instead_step(self, state: State) -> State:
        """No in-place reduction restores the distance, or a venue refused it (the legs are as they were, equal):
        the risk stays, so the position closes, as before rebalances. The strategy worker starts the close."""
        what = "impossible" if state.get("outcome") == "cannot" else "failed"
        reason = f"rebalance {what} ({state.get('detail', '')}): {state.get('reason', '')}"
        if self._closes is None:
            raise RuntimeError("no queue to ask for the close a failed rebalance replaces")
        self._closes.send_batch([{"kind": "close", "user_id": state["user_id"],
                                  "position_id": state["position_id"], "reason": reason}])
        state["close_reason"] = reason
        return state

    def needs_attention_step(self, state: State) -> State:
        """The restore failed (or the ledger could not take the venues' sizes): alert; an operator decides."""
        position = self._positions.get_position(state["user_id"], state["position_id"])
        if position is None or position.status is PositionStatus.NEEDS_ATTENTION:
            return state
        intent = position.rebalancing
        reduce_sol = intent.reduce_sol if intent is not None else Decimal(0)
        reason = self._needs_attention(position, int(state["number"]), reduce_sol,
                                       _error_text(state) or "the rebalance could not finish",
                                       self._traded_usd(position, intent) if intent is not None else Decimal(0))
        return self._ended(state, "needs_attention", reason)

    def _traded_usd(self, position: Position, intent: RebalanceInFlight) -> Decimal:
        """What the short's orders of this rebalance realized (buy-back, and restore if any, after fees): the
        ledger's short still shows its size before, so a later close (the reconciler's, an operator's) counts only
        what is left of it. Unreadable: 0 and a warning (flagging the position comes first)."""
        try:
            return self._short_realized_usd(position, intent)
        except Exception as error:  # any venue failure: the operator's alert says the rest
            logger.warning("rebalance %s of %s: the short's fills unreadable (%s); its realized PnL is not "
                           "recorded", intent.number, position.position_id, error)
            return Decimal(0)

    def _short_realized_usd(self, position: Position, intent: RebalanceInFlight) -> Decimal:
        """What this rebalance's short orders (buy-back, and restore if any) realized after fees."""
        return sum((self._short.step_filled(position.user_id, position.position_id, f"{step}-{intent.number}")
                    .realized_usd for step in ("rebalance", "restore")), Decimal(0))

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
                reduced: StepFill, paid_out_usd: Decimal | None = None) -> str:
        """Record the rebalance as done (the ledger legs = the venues' sizes) and tell the trader; its detail.
        `paid_out_usd`: what Asgard's partial close paid to the wallet (its answer), when the long step saw it."""
        assert position.long_leg is not None and position.short_leg is not None
        own = self._short.find_short(position.user_id, position.position_id)
        short_size = own.size_sol if own is not None else Decimal(0)
        long_leg = replace(position.long_leg, size=long.size,
                           notional_usd=(long.size * position.long_leg.entry_price).quantize(CENT))
        short_leg = replace(position.short_leg, size=short_size,
                            notional_usd=(short_size * position.short_leg.entry_price).quantize(CENT))
        # a deleverage keeps the long's equity in it; a partial close pays the wallet what Asgard answered (after
        # its fee), else (the answer was not seen: a retry after a lost one) an estimate: f / (1 - f) of what
        # stays, before the fee
        paid_out = Decimal(0)
        if paid_out_usd is not None:
            paid_out = paid_out_usd
        elif intent.close_percentage is not None and intent.close_percentage < 100:
            fraction = intent.close_percentage / 100
            paid_out = (long.value_usd - long.debt_usd) * fraction / (1 - fraction)
        cash = (position.rebalance_cash_usd + paid_out + reduced.realized_usd).quantize(CENT)
        # the rebalance's own realized PnL: the short's buy-back after fees, and the long's sold part (the USDC it
        # repaid and paid out less that part's cost at the entry price; Asgard's units, whose supply interest the
        # units kept still hold)
        debt_before = intent.long_debt_before if intent.long_debt_before is not None \
            else position.long_debt_at_open_usd
        size_before = intent.long_size_before if intent.long_size_before is not None else position.long_leg.size
        sold_cost = (size_before - long.size) * position.long_leg.entry_price
        rebalance_pnl = (position.rebalance_pnl_usd + reduced.realized_usd
                         + (debt_before - long.debt_usd) + paid_out - sold_cost).quantize(CENT)
        collateral = (position.rebalance_collateral_usd
                      + (position.long_leg.notional_usd - long_leg.notional_usd) / position.leverage).quantize(CENT)
        # the position's notional per leg follows its legs: what the dashboard shows, and what the strategy's exits
        # price a round trip on
        saved = self._save(position, {"long_leg": long_leg, "short_leg": short_leg, "rebalancing": None,
                                      "rebalance_cash_usd": cash, "rebalance_collateral_usd": collateral,
                                      "rebalance_pnl_usd": rebalance_pnl,
                                      "target_notional_usd": short_leg.notional_usd})
        detail = (f"both legs -{intent.reduce_sol} SOL: long {long.size:.4f} {position.asset.value} at "
                  f"{intent.target_leverage}x, short {short_size} SOL")
        if self._activity is not None:  # the intent's reason says why and how much; the sizes are what is left
            self._activity.record(saved.user_id, "position_rebalanced",
                                  f"Rebalanced {position.asset.value} in place ({intent.reason}). Now long "
                                  f"{long.size:.4f} {position.asset.value} at {intent.target_leverage}x, short "
                                  f"{short_size} SOL.",
                                  saved.position_id, reduce_sol=str(intent.reduce_sol),
                                  target_leverage=str(intent.target_leverage), number=intent.number)
        return detail

    def _undone(self, position: Position, intent: RebalanceInFlight, why: str) -> None:
        fresh = self._positions.get_position(position.user_id, position.position_id) or position
        # a buy-back sold back again costs its fees (and whatever the price did in between): kept with the rest
        traded = self._short_realized_usd(position, intent)
        self._save(fresh, {"rebalancing": None,
                           "rebalance_cash_usd": (fresh.rebalance_cash_usd + traded).quantize(CENT),
                           "rebalance_pnl_usd": (fresh.rebalance_pnl_usd + traded).quantize(CENT)})
        text = f"rebalance {intent.number} of {position.position_id} not done, legs unchanged: {why}"
        logger.warning(text)
        if self._alerts is not None:
            self._alerts.alert("rebalance_failed", text, user_id=position.user_id, position_id=position.position_id,
                               detail={"reduce_sol": intent.reduce_sol, "number": intent.number})
        if self._activity is not None:
            self._activity.record(position.user_id, "rebalance_failed",
                                  f"Could not rebalance {position.asset.value} in place ({why}); both legs are "
                                  "unchanged.", position.position_id)

    def _needs_attention(self, position: Position, number: int, reduce_sol: Decimal, why: str,
                         traded_usd: Decimal = Decimal(0)) -> str:
        fresh = self._positions.get_position(position.user_id, position.position_id) or position
        reason = f"rebalance {number}: {why}"
        flagged = fresh.moved_to(PositionStatus.NEEDS_ATTENTION, self._clock.now(), failure=reason)
        # the ledger's legs are as before (the short's bought part still in its size, so in the live PnL): the
        # close that ends the position counts the cash, and only what is left of the short at the venue
        self._save(fresh, {"status": flagged.status, "failure": reason, "rebalancing": None,
                           "rebalance_cash_usd": (fresh.rebalance_cash_usd + traded_usd).quantize(CENT)})
        if self._alerts is not None:
            self._alerts.alert("needs_attention", f"position {position.position_id}: {reason}",
                               user_id=position.user_id, position_id=position.position_id,
                               detail={"was": fresh.status.value, "reduce_sol": reduce_sol})
        if self._activity is not None:
            self._activity.record(position.user_id, "needs_attention",
                                  f"{position.asset.value} needs an operator: {reason}.", position.position_id)
        return reason
