"""After both legs fill: is the position still delta-neutral, and do the venues agree on the SOL price?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from dnbot.domain.sizing import SOL_SZ_DECIMALS, round_size

ZERO = Decimal(0)
ONE = Decimal(1)
DEFAULT_DELTA_TOLERANCE = Decimal("0.005")  # 0.5% of the long's SOL exposure
DEFAULT_MAX_PRICE_DIVERGENCE = Decimal("0.005")


@dataclass(frozen=True, slots=True)
class FillCheck:
    long_sol: Decimal  # the long's SOL exposure: LST units x LST/SOL rate (1 for SOL)
    short_sol: Decimal
    delta_sol: Decimal  # long - short: positive = net long SOL
    delta_share: Decimal  # |delta| / long
    within_tolerance: bool
    short_adjustment: Decimal  # SOL to add to the short (negative: reduce it), lot-rounded; 0 when within
    explanation: str


def validate_fills(long_size: Decimal, short_size: Decimal, *, lst_sol_rate: Decimal = ONE,
                   tolerance: Decimal = DEFAULT_DELTA_TOLERANCE,
                   sz_decimals: int = SOL_SZ_DECIMALS) -> FillCheck:
    """Compare the long's actual fill (in its own units) with the short's (SOL). The short is the leg that is
    resized: it is one IOC order, where the long is a multi-transaction Asgard position."""
    if long_size <= ZERO:
        raise ValueError("the long did not fill")
    long_sol = long_size * lst_sol_rate
    delta = long_sol - short_size
    share = abs(delta) / long_sol
    ok = share <= tolerance
    adjustment = ZERO if ok else round_size(abs(delta), sz_decimals) * (ONE if delta > ZERO else -ONE)
    if ok:
        text = f"delta {delta:.4f} SOL ({share:.3%}) within {tolerance:.2%}"
    else:
        text = f"delta {delta:.4f} SOL ({share:.3%}) > {tolerance:.2%}: adjust the short by {adjustment} SOL"
    return FillCheck(long_sol, short_size, delta, share, ok, adjustment, text)


@dataclass(frozen=True, slots=True)
class PriceConsensus:
    agreed: bool
    mid_usd: Decimal  # the median of the quotes
    spread: Decimal  # (max - min) / median
    explanation: str


def price_consensus(quotes: Sequence[tuple[str, Decimal]],
                    max_divergence: Decimal = DEFAULT_MAX_PRICE_DIVERGENCE) -> PriceConsensus:
    """Venues' SOL prices agree when their full spread is within `max_divergence` of the median."""
    if len(quotes) < 2:
        raise ValueError("price consensus needs at least two venues")
    if any(price <= ZERO for _, price in quotes):
        raise ValueError("prices must be positive")
    ordered = sorted(price for _, price in quotes)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    spread = (ordered[-1] - ordered[0]) / median
    names = ", ".join(f"{name} {price}" for name, price in quotes)
    agreed = spread <= max_divergence
    verb = "agree" if agreed else "disagree"
    return PriceConsensus(agreed, median, spread,
                          f"venues {verb}: spread {spread:.3%} (limit {max_divergence:.2%}): {names}")
