"""After a close, the user's USDC is split between the venues again (half on Solana for the next long's
collateral, half in the Hyperliquid account for its short's margin), over the same CCTP bridge a rebalance uses.

Why: a position's two legs end with unequal equity (after a rally the long holds the gain and the short's account
the loss, after a fall the reverse), and the next open can only use twice the smaller side (`free_capital_usd`):
without this a close after a 20% move would leave the next position a fraction of the capital. The close workflow
(workflows/definitions.py, close_position_definition) runs these steps after MarkClosed, in position_steps:
CapitalPlan -> (to_long: CapitalMarginOut -> margin_arrived) -> bridge_burn -> bridge_attest -> bridge_mint ->
CapitalDone, the shared bridge steps of services/bridge_rebalance.py on a transfer numbered 0 of the closed
position (`<position>:0:<direction>`; rebalances are numbered from 1). A failure leaves the capital where it is:
the close is done, the next open is smaller, the transfer's record says where any USDC in flight is (the
reconciler finishes it). The strategy worker opens nothing while a transfer is in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import Any

from dnbot.domain.bridge import BridgeDirection, BridgeState
from dnbot.domain.pnl import CENT
from dnbot.ports import ActivityLog, Clock, MarginOut
from dnbot.services.bridge import USDC_UNITS, BridgeService
from dnbot.services.bridge_rebalance import HYPERLIQUID_WITHDRAW_FEE_USD, MIN_TO_SHORT_USD, credit_short_now

logger = logging.getLogger(__name__)

State = dict[str, Any]
CAPITAL_TRANSFER_NUMBER = 0  # a transfer's number within its position: 0 is the close's, rebalances count from 1
# Moving less is not worth a transfer's ~$1-2: half the difference must be at least this, and this share of the
# capital.
MIN_MOVE_USD = Decimal(25)
MIN_MOVE_SHARE = Decimal("0.02")
_MICRO = Decimal(1) / USDC_UNITS


class CapitalBalance:
    def __init__(self, bridge: BridgeService, margin_out: MarginOut, solana_usdc: Callable[[str], Decimal],
                 credit_short: Callable[[str], Any], clock: Clock, activity: ActivityLog | None = None) -> None:
        """`solana_usdc(user_id)`: the user's USDC in their Solana wallet; `credit_short(user_id)`: deposit the
        user's Arbitrum USDC into Hyperliquid now (the deposit sweep for one user)."""
        self._bridge = bridge
        self._margin_out = margin_out
        self._solana_usdc = solana_usdc
        self._credit_short = credit_short
        self._clock = clock
        self._activity = activity

    def steps(self) -> dict[str, Callable[[State], State]]:
        return {"capital_plan": self.plan_step, "capital_margin_out": self.margin_out_step,
                "capital_done": self.done_step, "capital_failed": self.failed_step}

    def plan_step(self, state: State) -> State:
        """Half the difference between the venues' free USDC, from the richer to the poorer, if it is worth a
        transfer. Its record is created first (so the deposit sweep leaves USDC that leaves Hyperliquid alone)."""
        user_id = state["user_id"]
        solana = self._solana_usdc(user_id)
        hyperliquid = self._margin_out.withdrawable_usd(user_id)
        half_gap = ((solana - hyperliquid) / 2).quantize(_MICRO, rounding=ROUND_DOWN)
        if abs(half_gap) < max(MIN_MOVE_USD, (solana + hyperliquid) * MIN_MOVE_SHARE):
            state["bridge_outcome"] = "skipped"
            return state
        if half_gap > 0:
            direction, amount = BridgeDirection.TO_SHORT, half_gap
        else:
            direction, amount = BridgeDirection.TO_LONG, -half_gap - HYPERLIQUID_WITHDRAW_FEE_USD
        if amount < MIN_TO_SHORT_USD:
            state["bridge_outcome"] = "skipped"
            return state
        record = self._bridge.plan(user_id, state["position_id"], CAPITAL_TRANSFER_NUMBER, direction, amount)
        if record.direction is BridgeDirection.TO_LONG:  # a retried plan finds the first one's record: its amount
            state["margin_usd"] = str(record.amount_usd + HYPERLIQUID_WITHDRAW_FEE_USD)
            state["margin_nonce"] = int(self._clock.now().timestamp() * 1000)  # fixed now: a retry resends it
        state.update(method=record.direction.value, transfer_id=record.transfer_id, bridge_outcome="planned")
        return state

    def margin_out_step(self, state: State) -> State:
        """Hyperliquid withdraw3 to the user's own Arbitrum wallet under the nonce the plan fixed (once)."""
        state["margin_out"] = self._margin_out.withdraw_to_own_wallet(state["user_id"], Decimal(state["margin_usd"]),
                                                                      int(state["margin_nonce"]))
        return state

    def done_step(self, state: State) -> State:
        record = self._bridge.record(state["user_id"], state["transfer_id"])
        minted = record.minted_usd
        if record.state is not BridgeState.CREDITED and minted is not None:
            if record.direction is BridgeDirection.TO_SHORT:
                credit_short_now(self._credit_short, state["user_id"], record.transfer_id)
            record = self._bridge.credited(state["user_id"], state["transfer_id"])
            if self._activity is not None:
                where = "Solana to Hyperliquid" if record.direction is BridgeDirection.TO_SHORT \
                    else "Hyperliquid to Solana"
                self._activity.record(record.user_id, "capital_balanced",
                                      f"Moved ${record.amount_usd.quantize(CENT)} from {where} so that the next "
                                      f"position can use all of your capital (${minted.quantize(CENT)} "
                                      "arrived).", record.position_id, transfer_id=record.transfer_id)
        state["bridge_outcome"] = "credited"
        return state

    def failed_step(self, state: State) -> State:
        """The close is done; the capital stays split as it is (the next open is smaller) and any USDC in flight
        is on its record, which the reconciler finishes."""
        transfer = state.get("transfer_id")
        if transfer is not None:
            self._bridge.abandon_if_planned(state["user_id"], transfer, "the capital transfer did not start")
        logger.warning("capital not balanced after closing %s (%s): %s", state.get("position_id"), transfer,
                       state.get("error"))
        state["bridge_outcome"] = "failed"
        return state
