"""The risk readings of one position that are arithmetic on the position and the venues' raw readings: its LST's
depeg since the open, its equity now and at the open, its peak, and its distance to liquidation right after the
open. Pure: the risk reader (dnbot.adapters.risk) fetches the readings and hands them here, so the same numbers
can be checked without a venue and the adapter does I/O only.

Unknown stays unknown: a function returns None when a reading it needs is missing, and the breaker that reads it
(dnbot.domain.risk.assess) then skips its check rather than act on a made-up number.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from dnbot.domain.positions import Position
from dnbot.domain.rebalance import long_drop
from dnbot.domain.risk import liquidation_threshold, lst_depeg, short_rise_to_liquidation

ZERO = Decimal(0)
ONE = Decimal(1)


class LongReading(Protocol):
    """The long venue's reading of one long (Asgard's: dnbot.adapters.asgard.health.LongHealth). Read lazily:
    each function touches only the fields it needs, after checking the position can use them."""

    @property
    def health_factor(self) -> Decimal | None: ...

    @property
    def drop_to_liquidation(self) -> Decimal: ...

    @property
    def size(self) -> Decimal: ...

    @property
    def debt_usdc(self) -> Decimal: ...

    @property
    def value_usd(self) -> Decimal: ...


def known_sum(value: Decimal | None, more: Decimal | None) -> Decimal | None:
    """value + more, or None when either is unknown (a sum with an unknown part is unknown, never a partial one)."""
    return None if value is None or more is None else value + more


def lst_depeg_since_open(position: Position, long: LongReading | None,
                         sol_price_usd: Decimal | None) -> Decimal | None:
    """The LST's rate at the long venue now (its price / that venue's SOL price) against its rate at the open (what
    the long paid per unit / what the short sold SOL at): the redemption rate only grows, so a lower rate now is
    the market discounting the LST. 0 for a SOL long (nothing to depeg); None when a reading is missing."""
    if not position.asset.is_lst:
        return ZERO
    if long is None or sol_price_usd is None or long.size <= 0 or long.value_usd <= 0:
        return None
    if position.long_leg is None or position.short_leg is None or position.short_leg.entry_price <= 0:
        return None
    rate_at_open = position.long_leg.entry_price / position.short_leg.entry_price
    return lst_depeg(long.value_usd / long.size, sol_price_usd, rate_at_open)


def legs_equity_usd(position: Position, long: LongReading | None, short_price_usd: Decimal | None) -> Decimal | None:
    """The position's equity at the venues now: the long's value less its debt (Asgard) plus the short's
    unrealized PnL (its own size x (entry - the price Hyperliquid values it at: its mark, else the oracle)). The
    funding the short collected and the cash a rebalance took out are added by the caller (`known_sum`): the venues
    do not hold them on the legs."""
    if long is None or short_price_usd is None or position.short_leg is None or long.value_usd <= 0:
        return None
    short_pnl = position.short_leg.size * (position.short_leg.entry_price - short_price_usd)
    return long.value_usd - long.debt_usdc + short_pnl


def equity_at_open_usd(position: Position) -> Decimal | None:
    """The equity the position started with (the long's collateral, plus what a rebalance added, less the long's
    fees; the short's PnL starts at 0). None before the long is filled."""
    if position.long_leg is None or position.leverage <= 0:
        return None
    return (position.long_collateral_usd + position.rebalance_collateral_usd
            - position.long_leg.fees_usd)


def peak_equity_usd(position: Position) -> Decimal | None:
    """The higher of the equity at the open and the peak the tick stored on the position: the drawdown breaker
    measures from it, so a position never counts as down from less than it started with."""
    known = [e for e in (equity_at_open_usd(position), position.peak_equity_usd) if e is not None]
    return max(known) if known else None


def liquidation_distance_at_open(position: Position, long: LongReading | None,
                                 short_liquidation_price: Decimal | None) -> Decimal | None:
    """The joint distance (a fraction of the SOL price, never negative) to the first liquidation right after the
    open, from what the venues apply now: the long's liquidation threshold (read back from the long venue's
    drop, value and debt) applied to the long at its entry, and the short's liquidation price against its entry
    price. The rebalance breaker compares today's distance with it; None when neither leg can be measured."""
    distances: list[Decimal] = []
    if long is not None and position.long_leg is not None and position.leverage > ONE:
        threshold = liquidation_threshold(long.drop_to_liquidation, long.value_usd, long.debt_usdc)
        if threshold is not None:
            value_open = position.long_leg.notional_usd
            debt_open = value_open * (position.leverage - ONE) / position.leverage
            distances.append(long_drop(value_open, debt_open, threshold))
    if short_liquidation_price is not None and position.short_leg is not None \
            and position.short_leg.entry_price > 0:
        distances.append(short_rise_to_liquidation(short_liquidation_price, position.short_leg.entry_price))
    return min(distances) if distances else None
