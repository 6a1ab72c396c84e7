"""The transfer what-if of the backtester (`rebalance="transfer"`): a rebalance that moves equity between the
legs instead of shrinking them. The live workflow cannot do this yet: it needs a USDC bridge between Solana and
Hyperliquid in both directions (docs/strategy.md). Kept to measure what that bridge would be worth."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dnbot.domain.carry import DEFAULT_FEES, FeeSchedule

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class RebalancePlan:
    """How to re-centre a live position on its own equity, and what it costs.

    `transfer`: move `transfer_to_short_usd` from the Asgard long to the Hyperliquid margin (borrow more USDC
    against the long and bridge it) or, negative, the reverse (withdraw margin, bridge, repay debt): one Solana
    transaction and one bridge transfer, no trade, delta unchanged. `reduce`: the equity no longer carries the
    notional at the target leverage, so both legs shrink by `reduce_notional_usd` (a taker order, a swap and
    the Asgard close fee on that amount) before the transfer."""

    method: str  # "transfer" | "reduce"
    transfer_to_short_usd: Decimal
    reduce_notional_usd: Decimal
    cost_usd: Decimal


def plan_rebalance(*, long_equity_usd: Decimal, short_account_usd: Decimal, notional_usd: Decimal,
                   leverage: Decimal, fees: FeeSchedule = DEFAULT_FEES,
                   max_leverage: Decimal | None = None) -> RebalancePlan:
    """Each leg back to half the equity. Both legs shrink first (back to `leverage`) only when the equity
    carries the notional at more than `max_leverage` (default: `leverage`): a SOL rally grows the notional in
    USD, and a little drift is cheaper to keep than to trade away."""
    equity = long_equity_usd + short_account_usd
    fixed = fees.jito_tip_usd + fees.bridge_usd
    limit = leverage if max_leverage is None else max(leverage, max_leverage)
    reduce = ZERO
    cost = fixed
    if equity - fixed <= ZERO or 2 * notional_usd / (equity - fixed) > limit:
        notional = max(ZERO, (equity - fixed) * leverage / 2)
        reduce = notional_usd - notional
        cost += reduce * (fees.hyperliquid_taker_rate + fees.swap_slippage_rate + fees.asgard_close_rate)
    target_long = (equity - cost) / 2
    return RebalancePlan("reduce" if reduce > ZERO else "transfer", long_equity_usd - target_long, reduce, cost)
