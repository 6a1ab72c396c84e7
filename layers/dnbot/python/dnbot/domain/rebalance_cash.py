"""A Solana USDC withdrawal that takes a live position's rebalance cash (pure; dnbot.services.withdrawals applies it).

A rebalance's partial close pays the long's share of equity to the Solana wallet, and the position keeps counting
it (`Position.rebalance_cash_usd`): in its equity reading (the drawdown breaker), in its realized PnL. When the
trader withdraws that USDC, the position records it as CAPITAL RETURNED, not as a loss: its cash, its collateral
basis (`rebalance_collateral_usd`, part of the equity at the open) and its stored peak all drop by the amount.

Why this rather than reading the wallet every tick and counting min(rebalance cash, wallet USDC): that min makes a
withdrawal look like a drawdown of the same size (the peak still holds the cash), and the breaker closes the
position (its limits are 3-8% of the peak, about what a rally's partial close pays out); it also costs a Solana
read per position per tick, and the cash also holds the short's realized PnL, which is at Hyperliquid, not in the
wallet. Lowering cash, basis and peak together keeps the breaker on losses only (equity and peak move together) and
leaves the realized PnL (cash - collateral) unchanged.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from dnbot.domain.positions import Position

ZERO = Decimal(0)


def cash_in_wallet_usd(position: Position) -> Decimal:
    """The position's rebalance cash that sits in the wallet. `rebalance_cash_usd` also holds the short's realized
    PnL of its buy-backs (at Hyperliquid, usually a loss after a rally): the net, never below 0, is what the
    position may lose to a withdrawal (an under-count when that PnL is negative: the wallet part stays counted)."""
    return max(ZERO, position.rebalance_cash_usd)


def rebalance_cash_taken(wallet_usdc_before: Decimal, amount: Decimal,
                         live: list[Position]) -> list[tuple[Position, Decimal]]:
    """Which live positions' rebalance cash a withdrawal of `amount` USDC takes, and how much: the wallet's own USDC
    first (what no position counts), then each position's cash, oldest position first."""
    held = [(position, cash_in_wallet_usd(position)) for position in sorted(live, key=lambda p: p.created_at)]
    idle = max(ZERO, wallet_usdc_before - sum((cash for _, cash in held), ZERO))
    left = max(ZERO, amount - idle)
    taken: list[tuple[Position, Decimal]] = []
    for position, cash in held:
        take = min(cash, left)
        if take > ZERO:
            taken.append((position, take))
            left -= take
    return taken


def cash_paid_out(position: Position, usd: Decimal) -> Position:
    """The position after a withdrawal took `usd` of its rebalance cash: capital back to the trader. Its equity
    reading and its peak drop by `usd` alike (the drawdown breaker does not move), its equity at the open too
    (through the collateral basis), its realized PnL (cash - collateral) stays."""
    if usd < ZERO:
        raise ValueError("a withdrawal takes a positive amount")
    return replace(position, rebalance_cash_usd=position.rebalance_cash_usd - usd,
                   rebalance_collateral_usd=position.rebalance_collateral_usd - usd,
                   peak_equity_usd=None if position.peak_equity_usd is None else position.peak_equity_usd - usd)


# --- a bridge rebalance moves USDC between the venues (services/bridge_rebalance.py) -------------------------
# The position's equity counts the long's value less its debt, the short's PnL and its rebalance cash; the
# Hyperliquid account's margin is outside it (docs/bridge.md). So USDC that moves between the margin and the long or
# the cash moves the equity, and the collateral basis moves with it: the position's PnL changes by the bridge's cost
# only (fees: Hyperliquid's withdrawal fee, the Fast fee, gas), which the rebalances' realized PnL records.


def bridged_to_short(position: Position, burned_usd: Decimal, arrived_usd: Decimal) -> Position:
    """After a rally: `burned_usd` of the position's rebalance cash (a partial close's payout) left the Solana
    wallet and `arrived_usd` reached the Hyperliquid account. Cash and peak drop by what left (as a withdrawal's),
    the collateral basis by what arrived, so the PnL drops by the difference."""
    if burned_usd < ZERO or not ZERO <= arrived_usd <= burned_usd:
        raise ValueError(f"bridged {burned_usd} USDC must be >= what arrived, {arrived_usd}, >= 0")
    cost = burned_usd - arrived_usd
    return replace(position, rebalance_cash_usd=position.rebalance_cash_usd - burned_usd,
                   rebalance_collateral_usd=position.rebalance_collateral_usd - arrived_usd,
                   rebalance_pnl_usd=position.rebalance_pnl_usd - cost,
                   peak_equity_usd=None if position.peak_equity_usd is None
                   else position.peak_equity_usd - burned_usd)


def bridged_to_long(position: Position, left_usd: Decimal, added_usd: Decimal) -> Position:
    """After a fall: `left_usd` left the Hyperliquid account and `added_usd` repaid the long's debt
    (its debt falls by that much, its equity rises by it). The collateral basis rises by what left, so the PnL
    drops by the difference."""
    if left_usd < ZERO or not ZERO <= added_usd <= left_usd:
        raise ValueError(f"moved {left_usd} USDC must be >= what was added, {added_usd}, >= 0")
    return replace(position, rebalance_collateral_usd=position.rebalance_collateral_usd + left_usd,
                   rebalance_pnl_usd=position.rebalance_pnl_usd - (left_usd - added_usd))


def bridge_booked(position: Position, transfer_id: str) -> bool:
    """Whether these books already hold that transfer (`Position.bridge_booked`: the ids, comma-separated)."""
    return transfer_id in (position.bridge_booked or "").split(",")


def with_bridge_booked(position: Position, transfer_id: str) -> Position:
    """The position recording that its books hold the transfer (saved with the books, in one write)."""
    booked = {t for t in (position.bridge_booked or "").split(",") if t} | {transfer_id}
    return replace(position, bridge_booked=",".join(sorted(booked)))
