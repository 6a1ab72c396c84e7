"""A position's PnL by source while it is open (unrealized) and once it is closed (realized), and its live figures.

Pure: amounts in, a `PnlBreakdown` (domain/pnl.py) out, in cents summing exactly to the total in cents.

Open position (unrealized), measured (`unrealized_at_venues`, when Asgard and Hyperliquid were read): the total is
what a close now would realize before its own fees, by the close's own formula, with Asgard's equity of the long
(its value less its debt, interest in) and the short at the price Hyperliquid values it (its mark); funding and the
open's fees are measured, the carry parts are accrued estimates, and `price` is what the total leaves, as for a
closed position. So the total is the change in what the venues hold for the user.

Open position, estimated (`unrealized`, when Asgard cannot be read), with the legs as filled and the prices now:
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


def position_pnl_usd(*, long_proceeds_usd: Decimal, long_collateral_usd: Decimal, rebalanced_cash_usd: Decimal,
                     short_pnl_usd: Decimal, short_open_fee_usd: Decimal, funding_usd: Decimal) -> Decimal:
    """A position's PnL from what its legs return: the long's proceeds - its collateral + what rebalances took out
    + the short's PnL - its opening fee + the funding it collected (position_steps.mark_closed's formula)."""
    return (long_proceeds_usd - long_collateral_usd + rebalanced_cash_usd + short_pnl_usd - short_open_fee_usd
            + funding_usd)


def unrealized_at_venues(*, long_value_usd: Decimal, long_debt_usd: Decimal, long_collateral_usd: Decimal,
                         long: LegFill, short: LegFill, short_price_now_usd: Decimal, funding_usd: Decimal,
                         rebalanced_cash_usd: Decimal, debt_at_open_usd: Decimal, hours_held: Decimal,
                         rates: CarryRates) -> PnlBreakdown:
    """An open position's PnL as the venues hold it now: position_steps.mark_closed's formula (the long's proceeds -
    its collateral + what rebalances took out + the short's PnL - its opening fee + funding) with the long's
    equity at Asgard (`long_value_usd - long_debt_usd`) for its proceeds and the short's size x (entry - the price
    Hyperliquid values it at) for its PnL, before the close's fees. `rebalanced_cash_usd`: the position's
    rebalance cash less the collateral its smaller ledger long no longer shows. Split as `realized` splits."""
    total = position_pnl_usd(long_proceeds_usd=long_value_usd - long_debt_usd, long_collateral_usd=long_collateral_usd,
                             rebalanced_cash_usd=rebalanced_cash_usd,
                             short_pnl_usd=short.size * (short.entry_price_usd - short_price_now_usd),
                             short_open_fee_usd=abs(short.fees_usd), funding_usd=funding_usd)
    return realized(total_usd=total, funding_usd=funding_usd, fees_usd=abs(long.fees_usd) + abs(short.fees_usd),
                    debt_usd=debt_at_open_usd, long_value_at_entry_usd=long.size * long.entry_price_usd,
                    hours_held=hours_held, rates=rates)


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

