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

The transfer's fees (Hyperliquid's $1 withdraw fee, Circle's Fast fee) are the closed position's: once the USDC
has arrived, its realized PnL and the fees part of its breakdown take them (`book_capital_fees`, once per transfer),
so a position's realized total is what the user's venue balances gained.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from dnbot.domain.bridge import BridgeDirection, BridgeState, BridgeTransfer, transfer_id_for
from dnbot.domain.pnl import CENT, SOURCES
from dnbot.domain.rebalance_cash import bridge_booked, with_bridge_booked
from dnbot.ports import ActivityLog, Clock, MarginOut, PnlBook, PositionStore
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


def is_capital_transfer(record: BridgeTransfer) -> bool:
    """A close's capital transfer (`<position>:0:<direction>`), not a rebalance's: its id is the one
    domain.bridge.transfer_id_for gives transfer 0 of its position (no parsing of the id's format here)."""
    return record.transfer_id == transfer_id_for(record.position_id, CAPITAL_TRANSFER_NUMBER, record.direction)


def capital_fees_usd(record: BridgeTransfer) -> Decimal:
    """What a credited capital transfer cost, in cents: what left the source venue less what arrived (a to_long
    transfer left Hyperliquid with its $1 withdraw fee on top of the amount burned)."""
    assert record.minted_usd is not None
    withdraw_fee = HYPERLIQUID_WITHDRAW_FEE_USD if record.direction is BridgeDirection.TO_LONG else Decimal(0)
    return (record.amount_usd + withdraw_fee - record.minted_usd).quantize(CENT)


def book_capital_fees(positions: PositionStore, pnl_book: PnlBook | None, record: BridgeTransfer,
                      now: datetime) -> Decimal | None:
    """The closed position's realized PnL less the capital transfer's fees, once per transfer (the id is saved with
    the new total in one conditional write); then its breakdown's fees part takes whatever its parts no longer sum
    to, so a rerun after a crash between the two writes completes the breakdown instead of booking twice.
    Returns the position's realized total, or None when there is nothing to book on (no such closed position)."""
    position = positions.get_position(record.user_id, record.position_id)
    if position is None or position.realized_pnl_usd is None or record.minted_usd is None:
        return None
    if not bridge_booked(position, record.transfer_id):
        booked = with_bridge_booked(position, record.transfer_id)
        position = replace(booked, realized_pnl_usd=position.realized_pnl_usd - capital_fees_usd(record),
                           updated_at=now)
        positions.save_position(position)
    realized = position.realized_pnl_usd
    assert realized is not None
    parts = pnl_book.realized_of(record.user_id).get(record.position_id) if pnl_book is not None else None
    if parts is not None and pnl_book is not None:
        missing = realized - sum((parts.get(name, Decimal(0)) for name in SOURCES), Decimal(0))
        if missing:
            pnl_book.put_realized(record.user_id, record.position_id,
                                  {**parts, "fees": parts.get("fees", Decimal(0)) + missing})
    return realized


class CapitalBalance:
    def __init__(self, bridge: BridgeService, margin_out: MarginOut, solana_usdc: Callable[[str], Decimal],
                 credit_short: Callable[[str], Any], clock: Clock, activity: ActivityLog | None = None, *,
                 positions: PositionStore | None = None, pnl_book: PnlBook | None = None) -> None:
        """`solana_usdc(user_id)`: the user's USDC in their Solana wallet; `credit_short(user_id)`: deposit the
        user's Arbitrum USDC into Hyperliquid now (the deposit sweep for one user); `positions` and `pnl_book`:
        where the transfer's fees are booked on the closed position (None: not booked)."""
        self._positions = positions
        self._pnl_book = pnl_book
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
            realized = self._book(record)
            if self._activity is not None:
                where = "Solana to Hyperliquid" if record.direction is BridgeDirection.TO_SHORT \
                    else "Hyperliquid to Solana"
                booked = "" if realized is None else (
                    f"; its ${capital_fees_usd(record)} of fees are the closed position's: realized now "
                    + (f"-${-realized:,.2f}" if realized < 0 else f"${realized:,.2f}"))
                self._activity.record(record.user_id, "capital_balanced",
                                      f"Moved ${record.amount_usd.quantize(CENT)} from {where} so that the next "
                                      f"position can use all of your capital (${minted.quantize(CENT)} "
                                      f"arrived){booked}.", record.position_id, transfer_id=record.transfer_id)
        elif record.state is BridgeState.CREDITED:
            self._book(record)  # a rerun after the credit: completes a booking a crash interrupted
        state["bridge_outcome"] = "credited"
        return state

    def _book(self, record: BridgeTransfer) -> Decimal | None:
        if self._positions is None:
            return None
        return book_capital_fees(self._positions, self._pnl_book, record, self._clock.now())

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
