"""Position sizing: equal notional on both legs, within the user's limits and Hyperliquid's order rules.

Hyperliquid's rules (docs, "Tick and lot size"): a size has at most `szDecimals` decimals (SOL: 2); a perp
price has at most 5 significant figures and at most 6 - szDecimals decimals (integers always allowed); an
order's value must be at least $10. They are hand-written here because the SDK's helpers work on floats and
the domain keeps Decimal end to end.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from dnbot.domain.carry import notional_for_capital

SOL_SZ_DECIMALS = 2
HYPERLIQUID_MIN_ORDER_USD = Decimal(10)
PERP_MAX_DECIMALS = 6
PRICE_SIGNIFICANT_FIGURES = 5
ONE = Decimal(1)
ZERO = Decimal(0)


def round_size(size: Decimal, sz_decimals: int = SOL_SZ_DECIMALS) -> Decimal:
    """Down to the lot: never size a short bigger than the long it hedges."""
    return size.quantize(Decimal(1).scaleb(-sz_decimals), rounding=ROUND_DOWN)


def round_price(price: Decimal, sz_decimals: int = SOL_SZ_DECIMALS) -> Decimal:
    """To 5 significant figures and at most 6 - szDecimals decimals, as Hyperliquid accepts a perp price."""
    if price <= ZERO:
        raise ValueError("price must be positive")
    if price == price.to_integral_value():
        return price.quantize(ONE)  # integer prices are always valid, whatever their digits
    significant = price.adjusted() + 1  # digits before the point (<= 0 for prices under 1)
    decimals = min(PRICE_SIGNIFICANT_FIGURES - significant, PERP_MAX_DECIMALS - sz_decimals)
    decimals = max(decimals, 0)
    return price.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)


class SizingError(ValueError):
    """The capital cannot make a valid position (under the venue's minimum, or no capital)."""


@dataclass(frozen=True, slots=True)
class SizedPosition:
    capital_usd: Decimal  # what the position ties up: collateral + margin (+ buffer)
    notional_usd: Decimal  # each leg
    collateral_usd: Decimal  # Asgard: notional / L
    debt_usd: Decimal  # Asgard: notional - collateral
    margin_usd: Decimal  # Hyperliquid: notional / L + the buffer
    short_size: Decimal  # SOL, lot-rounded
    long_size: Decimal  # units of the long asset (SOL or the LST)

    @property
    def delta_sol(self) -> Decimal:
        """Long SOL exposure minus short, in SOL (the long in SOL terms needs the LST/SOL rate: see fills)."""
        return self.long_size - self.short_size


def size_position(capital_usd: Decimal, leverage: Decimal, sol_price_usd: Decimal, *,
                  max_position_usd: Decimal, margin_buffer: Decimal = ZERO,
                  long_asset_price_usd: Decimal | None = None,
                  sz_decimals: int = SOL_SZ_DECIMALS) -> SizedPosition:
    """Split `capital_usd` (capped at `max_position_usd`) so that both legs carry the same notional.

    `margin_buffer` is a share of the capital left in the Hyperliquid account on top of the short's initial
    margin, so a SOL spike does not push it straight to its maintenance margin.
    """
    if capital_usd <= ZERO or sol_price_usd <= ZERO:
        raise SizingError("capital and price must be positive")
    if not ZERO <= margin_buffer < ONE:
        raise SizingError("margin buffer must be in [0, 1)")
    capital = min(capital_usd, max_position_usd)
    buffer_usd = capital * margin_buffer
    target_notional = notional_for_capital(capital - buffer_usd, leverage)
    short_size = round_size(target_notional / sol_price_usd, sz_decimals)
    notional = short_size * sol_price_usd
    if notional < HYPERLIQUID_MIN_ORDER_USD:
        raise SizingError(
            f"notional ${notional:.2f} is under Hyperliquid's ${HYPERLIQUID_MIN_ORDER_USD} minimum")
    collateral = notional / leverage
    long_price = sol_price_usd if long_asset_price_usd is None else long_asset_price_usd
    return SizedPosition(
        capital_usd=collateral * 2 + buffer_usd,
        notional_usd=notional,
        collateral_usd=collateral,
        debt_usd=notional - collateral,
        margin_usd=collateral + buffer_usd,
        short_size=short_size,
        long_size=notional / long_price,
    )
