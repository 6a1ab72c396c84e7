"""A position's PnL by source while it is open (unrealized) and once it is closed (realized), and its live figures.

Pure: amounts in, a `PnlBreakdown` (domain/pnl.py) out, in cents summing exactly to the total in cents.

Open position (unrealized), with the legs as filled and the prices now:
- price: the long's units x (its price now - its entry price) + the short's size x (its entry - the mark now);
  an LST leg is valued at its entry price moved with SOL (entry x SOL now / SOL at entry), so its staking yield
  is not counted twice (it is in `staking`); plus what in-place rebalances realized on the part they sold;
- funding: what Hyperliquid's userFunding paid the short since the open (measured);
- fees: the fees both legs paid at the open (measured, negative);
- staking / lending / borrow: the accrual of the LST's staking yield and the supply interest on the long's
  value, and of the USDC interest on the debt, at the current APYs over the hours held (estimates, until the
  venue's own accrual is read at the close).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dnbot.domain.pnl import PnlBreakdown, attribute_realized
from dnbot.domain.rates import HOURS_PER_YEAR

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class LegFill:
    """One leg as filled: units (positive), USD per unit at entry, fees paid at the open (positive)."""

    size: Decimal
    entry_price_usd: Decimal
    fees_usd: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class CarryRates:
    """The long's rates (simple annual, 0.05 = 5 %/year) applied over the hours held."""

    staking_apy: Decimal = ZERO
    supply_apy: Decimal = ZERO
    usdc_borrow_apy: Decimal = ZERO


def accrued_usd(principal_usd: Decimal, rate_apy: Decimal, hours: Decimal) -> Decimal:
    """Simple interest on `principal_usd` at `rate_apy` over `hours` (the venues accrue near-continuously; at the
    rates and horizons here the difference to compounding is below a cent per thousand dollars)."""
    if hours <= ZERO:
        return ZERO
    return principal_usd * rate_apy * hours / HOURS_PER_YEAR


def long_price_now(long: LegFill, short_entry_sol_usd: Decimal, sol_now_usd: Decimal, is_lst: bool,
                   long_venue_price_now_usd: Decimal | None = None) -> Decimal:
    """The long asset's USD price now: SOL's own for SOL, else the LST's entry price moved with SOL."""
    if not is_lst:
        return long_venue_price_now_usd if long_venue_price_now_usd is not None else sol_now_usd
    if short_entry_sol_usd <= ZERO:
        raise ValueError("the short's entry price must be positive")
    return long.entry_price_usd * sol_now_usd / short_entry_sol_usd


def unrealized(*, long: LegFill, short: LegFill, long_price_now_usd: Decimal, short_mark_now_usd: Decimal,
               funding_usd: Decimal, debt_usd: Decimal, hours_held: Decimal, rates: CarryRates,
               rebalanced_usd: Decimal = ZERO) -> PnlBreakdown:
    """An open position's PnL by source, in cents (the parts sum exactly to the total). `rebalanced_usd`: what
    in-place rebalances realized (Position.rebalance_pnl_usd: the part of both legs they sold, after their fees),
    which the smaller legs no longer hold; counted in `price`, as the close's realized split does."""
    long_value_at_entry = long.size * long.entry_price_usd
    exact = PnlBreakdown(
        funding=funding_usd,
        staking=accrued_usd(long_value_at_entry, rates.staking_apy, hours_held),
        lending=accrued_usd(long_value_at_entry, rates.supply_apy, hours_held),
        borrow=-accrued_usd(max(debt_usd, ZERO), rates.usdc_borrow_apy, hours_held),
        fees=-(abs(long.fees_usd) + abs(short.fees_usd)),
        price=long.size * (long_price_now_usd - long.entry_price_usd)
        + short.size * (short.entry_price_usd - short_mark_now_usd) + rebalanced_usd,
    )
    return exact.to_cents(fixed=("funding",))


def realized(*, total_usd: Decimal, funding_usd: Decimal, fees_usd: Decimal, debt_usd: Decimal,
             long_value_at_entry_usd: Decimal, hours_held: Decimal, rates: CarryRates) -> PnlBreakdown:
    """A closed position's realized PnL by source: the total is what the venues returned; funding and fees (the
    open's and the close's venue fees) are measured; the carry parts are accrued at the rates (estimates); `price`
    is what the total leaves (both legs' price moves, which cancel when delta-neutral, the LST/SOL basis, what the
    carry estimates missed, and the costs of in-place rebalances)."""
    return attribute_realized(
        total_usd=total_usd, funding_usd=funding_usd, fees_usd=fees_usd,
        borrow_interest_usd=accrued_usd(max(debt_usd, ZERO), rates.usdc_borrow_apy, hours_held),
        supply_interest_usd=accrued_usd(long_value_at_entry_usd, rates.supply_apy, hours_held),
        staking_usd=accrued_usd(long_value_at_entry_usd, rates.staking_apy, hours_held),
    )

