"""The bridge half of an in-place rebalance: USDC moved between the venues so that less, or nothing, is shrunk
(domain.rebalance.size_bridge_rebalance; docs/strategy.md "What shrinking costs"; docs/bridge.md).

The rebalance workflow (workflows/definitions.py, rebalance_position_definition) runs these steps in position_steps:
- **to_long**, after a fall (the long near liquidation, the short's account with margin to spare): nothing is
  traded. The transfer's record first (so the deposit sweep leaves the USDC alone), then Hyperliquid `withdraw3`
  of the margin to the user's own Arbitrum wallet (a nonce fixed by the intent, so a resend is the same action),
  the bridge to the user's Solana USDC account, and Asgard repay-debt with what arrived, once. Any failure
  before the repayment falls back to today's shrink (PositionRebalancer.fallback_shrink_step): the long is
  protected either way, and USDC that left Hyperliquid stays the user's (in the Arbitrum wallet, swept back, or in
  the Solana wallet).
- **to_short**, after a rally: the shrink's own steps trade a smaller partial close and buy-back; once they are
  recorded, the partial close's USDC is bridged to the user's Arbitrum wallet and deposited into the Hyperliquid
  account (the deposit sweep, now). If the bridge fails the legs are already equal and safe: the USDC stays
  rebalance cash, the operator is told, and the transfer's record says where it is.
The books (domain.rebalance_cash.bridged_to_long / bridged_to_short) move the collateral basis with the USDC, so the
position's PnL changes by the bridge's fees only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from dnbot.domain.bridge import BridgeDirection, BridgeState, BridgeTransfer, stage
from dnbot.domain.carry import FeeSchedule
from dnbot.domain.pnl import CENT
from dnbot.domain.positions import Position, RebalanceInFlight
from dnbot.domain.rebalance import TO_LONG, BridgeRebalance, LegsNow, size_bridge_rebalance
from dnbot.domain.rebalance_cash import bridge_booked, bridged_to_long, bridged_to_short, with_bridge_booked
from dnbot.ports import (
    ActivityLog,
    AlertSink,
    Clock,
    LongDeleverager,
    LongState,
    MarginOut,
    PositionStore,
    TransientVenueError,
)
from dnbot.services.bridge import USDC_UNITS, BridgeService

logger = logging.getLogger(__name__)

State = dict[str, Any]
HYPERLIQUID_WITHDRAW_FEE_USD = Decimal(1)  # Hyperliquid keeps $1 of every withdraw3
MIN_TO_SHORT_USD = Decimal(6)  # Hyperliquid's 5 USDC deposit minimum, with room for the Fast fee
_MICRO = Decimal(1) / USDC_UNITS


class MarginNotArrived(TransientVenueError):
    """Hyperliquid's withdrawal has not reached the Arbitrum wallet yet: the step is retried."""


class BridgeAbandoned(Exception):
    """The transfer can never land (its burn was refused): the rebalance falls back to a shrink."""


class BridgeRebalancing:
    def __init__(self, bridge: BridgeService, positions: PositionStore, long_venue: LongDeleverager,
                 margin_out: MarginOut, arbitrum_usdc: Callable[[str], Decimal], credit_short: Callable[[str], Any],
                 clock: Clock, *, fees: FeeSchedule | None = None, activity: ActivityLog | None = None,
                 alerts: AlertSink | None = None) -> None:
        """`arbitrum_usdc(user_id)`: the user's USDC on Arbitrum; `credit_short(user_id)`: deposit the user's
        Arbitrum USDC into Hyperliquid now (the deposit sweep for one user)."""
        self._bridge = bridge
        self._positions = positions
        self._long = long_venue
        self.margin_out = margin_out
        self._arbitrum_usdc = arbitrum_usdc
        self._credit_short = credit_short
        self._clock = clock
        self._fees = fees or FeeSchedule()
        self._activity = activity
        self._alerts = alerts

    def plan(self, legs: LegsNow, target_distance: Decimal) -> BridgeRebalance | None:
        """The bridge rebalance that restores the distance, or None (then the shrink): the same sizing and costs
        as the backtester's (`dnbot backtest --rebalance bridge`)."""
        return size_bridge_rebalance(legs, target_distance,
                                     transfer_cost_usd=self._fees.bridge_usd + self._fees.jito_tip_usd,
                                     reduce_cost_rate=self._fees.reduce_rate)

    def steps(self) -> dict[str, Callable[[State], State]]:
        return {"bridge_plan": self.plan_step, "margin_out": self.margin_out_step,
                "margin_arrived": self.margin_arrived_step, "bridge_burn": self.burn_step,
                "bridge_attest": self.attest_step, "bridge_mint": self.mint_step,
                "repay_debt": self.repay_debt_step, "mark_bridged": self.mark_bridged_step,
                "bridge_failed": self.failed_step}

    # --- steps -------------------------------------------------------------------------------------------

    def plan_step(self, state: State) -> State:
        """The transfer's record (once per position, rebalance and direction). to_long: what Hyperliquid pays out
        of the intent's margin; to_short: what the partial close paid to the wallet (Asgard's own figure)."""
        direction = BridgeDirection(state["method"])
        if direction is BridgeDirection.TO_LONG:
            intent = self._intent(state)
            assert intent.bridge_usd is not None
            amount = intent.bridge_usd - HYPERLIQUID_WITHDRAW_FEE_USD
        else:
            paid = state.get("long_paid_out_usd")
            if paid is None:  # the partial close's answer was lost: what it paid is not known, nothing is moved
                state["bridge_outcome"] = "skipped"
                return state
            amount = Decimal(str(paid))
        amount = amount.quantize(_MICRO, rounding=ROUND_DOWN)
        if direction is BridgeDirection.TO_SHORT and amount < MIN_TO_SHORT_USD:
            # Hyperliquid credits no deposit under 5 USDC: it would sit in the Arbitrum wallet; it stays cash
            state["bridge_outcome"] = "skipped"
            return state
        record = self._bridge.plan(state["user_id"], state["position_id"], int(state["number"]), direction, amount)
        state["transfer_id"] = record.transfer_id
        state["bridge_outcome"] = "planned"
        return state

    def margin_out_step(self, state: State) -> State:
        """Hyperliquid withdraw3 of the intent's margin to the user's own Arbitrum wallet. Its nonce is the
        intent's start (ms): a retry after a lost answer sends the same action, which Hyperliquid takes once."""
        intent = self._intent(state)
        assert intent.bridge_usd is not None
        nonce = int(intent.started_at.timestamp() * 1000)
        state["margin_out"] = self.margin_out.withdraw_to_own_wallet(state["user_id"], intent.bridge_usd, nonce)
        return state

    def margin_arrived_step(self, state: State) -> State:
        record = self._record(state)
        held = self._arbitrum_usdc(state["user_id"])
        if held < record.amount_usd:
            raise MarginNotArrived(f"{held} USDC on Arbitrum, {record.amount_usd} expected from Hyperliquid")
        return state

    def burn_step(self, state: State) -> State:
        record = self._bridge.burn(state["user_id"], state["transfer_id"])
        if record.state is BridgeState.ABANDONED:
            raise BridgeAbandoned(f"bridge transfer {record.transfer_id}: {record.error}")
        return state

    def attest_step(self, state: State) -> State:
        self._bridge.attest(state["user_id"], state["transfer_id"])
        return state

    def mint_step(self, state: State) -> State:
        record = self._bridge.mint(state["user_id"], state["transfer_id"])
        if stage(record) is not BridgeState.MINTED or record.minted_usd is None:
            raise BridgeAbandoned(f"bridge transfer {record.transfer_id} is {record.state.value}: {record.error}")
        state["minted_usd"] = str(record.minted_usd)
        return state

    def repay_debt_step(self, state: State) -> State:
        """Asgard repay-debt with what arrived, once (sent only while the long has no update after the one counted
        at the intent): the long's debt falls by it, its size stays."""
        intent = self._intent(state)
        record = self._record(state)
        assert record.minted_usd is not None
        after = self._long.repay_debt_once(state["user_id"], state["position_id"], record.minted_usd,
                                               updates_before=intent.long_updates_before)
        state["long_debt_after_usd"] = str(after.debt_usd)
        return state

    def mark_bridged_step(self, state: State) -> State:
        """The books and the trader's activity, once (the position records the transfer it booked in the same
        save); to_long also ends the rebalance (its intent is cleared), to_short deposits the minted USDC into the
        Hyperliquid account now. Then the transfer ends (credited). Rerun after any failure: it books nothing
        twice."""
        record = self._record(state)
        assert record.minted_usd is not None
        position = self._position(state)
        if not bridge_booked(position, record.transfer_id):
            if record.direction is BridgeDirection.TO_LONG:
                self._book_to_long(position, record, state)
            else:
                book_to_short(self._positions, position, record, self._clock.now(), self._activity)
        if record.direction is BridgeDirection.TO_SHORT:
            credit_short_now(self._credit_short, state["user_id"], record.transfer_id)
        self._bridge.credited(state["user_id"], state["transfer_id"])
        state["bridge_outcome"] = "credited"
        return state

    def _book_to_long(self, position: Position, record: BridgeTransfer, state: State) -> None:
        assert record.minted_usd is not None
        intent = self._intent(state)
        assert intent.bridge_usd is not None
        booked = with_bridge_booked(bridged_to_long(position, intent.bridge_usd, record.minted_usd), record.transfer_id)
        self._positions.save_position(replace(booked, rebalancing=None, updated_at=self._clock.now()))
        if self._activity is not None:
            self._activity.record(position.user_id, "position_rebalanced",
                                  f"Repaid ${record.minted_usd.quantize(CENT)} of the long's debt with the short's "
                                  f"spare margin (${intent.bridge_usd.quantize(CENT)} left Hyperliquid); both legs "
                                  f"keep their size ({intent.reason}).", position.position_id,
                                  bridge=record.direction.value, bridged_usd=str(intent.bridge_usd),
                                  arrived_usd=str(record.minted_usd))

    def failed_step(self, state: State) -> State:
        """A to_short bridge that did not finish: the legs are equal and the USDC is the position's rebalance cash
        (in the Solana wallet, or in the transfer's record while in flight): tell the operator."""
        transfer = state.get("transfer_id")
        text = f"the bridge of rebalance {state.get('number')} of {state['position_id']} did not finish ({transfer})"
        if self._alerts is not None:
            self._alerts.alert("bridge_failed", text, user_id=state["user_id"], position_id=state["position_id"],
                               detail={"transfer_id": transfer})
        state["bridge_outcome"] = "failed"
        return state

    # --- plumbing --------------------------------------------------------------------------------------------

    def abandon_if_planned(self, user_id: str, transfer_id: str | None, why: str) -> None:
        """On a fallback: a transfer still only planned never burns now (so the sweep may take the USDC back)."""
        if transfer_id is not None:
            self._bridge.abandon_if_planned(user_id, transfer_id, why)

    def _record(self, state: State) -> BridgeTransfer:
        return self._bridge.record(state["user_id"], state["transfer_id"])

    def _position(self, state: State) -> Position:
        position = self._positions.get_position(state["user_id"], state["position_id"])
        if position is None:
            raise LookupError(f"no position {state['position_id']}")
        return position

    def _intent(self, state: State) -> RebalanceInFlight:
        intent = self._position(state).rebalancing
        if intent is None or intent.number != int(state["number"]) or intent.bridge != TO_LONG:
            raise LookupError(f"rebalance {state['number']} of {state['position_id']} is not a bridge in flight")
        return intent


def credit_short_now(credit_short: Callable[[str], Any], user_id: str, transfer_id: str) -> None:
    """Deposit the user's bridged Arbitrum USDC into Hyperliquid now, best effort: the scheduled deposit sweep
    deposits it within a minute anyway."""
    try:
        credit_short(user_id)
    except Exception as error:
        logger.warning("depositing the bridged USDC of %s now failed (%s); the sweep will", transfer_id, error)


def book_to_short(positions: PositionStore, position: Position, record: BridgeTransfer, now: datetime,
                  activity: ActivityLog | None = None) -> None:
    """A to_short transfer's USDC left the position's rebalance cash for the Hyperliquid account: its books
    (domain.rebalance_cash.bridged_to_short), once per transfer. Used by the rebalance workflow and by the
    reconciler for a transfer it finished after the workflow gave up."""
    assert record.minted_usd is not None
    if bridge_booked(position, record.transfer_id):
        return
    booked = with_bridge_booked(bridged_to_short(position, record.amount_usd, record.minted_usd), record.transfer_id)
    positions.save_position(replace(booked, updated_at=now))
    if activity is not None:
        activity.record(position.user_id, "position_rebalanced",
                        f"Moved the rebalance's ${record.amount_usd.quantize(CENT)} to the short's margin on "
                        f"Hyperliquid (${record.minted_usd.quantize(CENT)} arrived).", position.position_id,
                        bridge=record.direction.value, bridged_usd=str(record.amount_usd),
                        arrived_usd=str(record.minted_usd))


def bridge_intent(number: int, plan: BridgeRebalance, legs: LegsNow, long: LongState, started_at: datetime,
                  reason: str) -> RebalanceInFlight:
    """The intent a bridge rebalance records at its preflight. to_long trades nothing (its leverage after is the
    long's with the debt the transfer repays); to_short is a partial close of `close_percentage` (the leverage
    stays) and a buy-back of the same SOL."""
    equity = legs.long_value_usd - legs.long_debt_usd
    leverage = legs.long_value_usd / equity if equity > 0 else Decimal(0)
    if plan.direction == TO_LONG:
        arriving = plan.transfer_usd - HYPERLIQUID_WITHDRAW_FEE_USD
        leverage = legs.long_value_usd / (equity + arriving) if equity + arriving > 0 else leverage
    percentage = None if plan.close_percentage is None else plan.close_percentage.quantize(Decimal("0.0001"))
    return RebalanceInFlight(number, plan.reduce_sol, leverage.quantize(Decimal("0.0001")), long.update_count,
                             started_at, f"{reason}; {plan.explanation}", percentage, equity, long.debt_usd,
                             long.size, plan.direction, plan.transfer_usd.quantize(_MICRO, rounding=ROUND_DOWN))

