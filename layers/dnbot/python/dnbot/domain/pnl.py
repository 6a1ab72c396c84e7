"""PnL attribution by source. The parts are accumulated exactly (Decimal) as the position lives, and rounded
to cents at the end so that they still sum to the rounded total to the cent."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")
ZERO = Decimal(0)
SOURCES = ("funding", "staking", "lending", "borrow", "fees", "price")


@dataclass(frozen=True, slots=True)
class PnlBreakdown:
    """USD by source: funding (Hyperliquid, + when the short earned), staking (LST yield), lending (supply
    interest), borrow (USDC interest, <= 0), fees (<= 0: venue fees, slippage, tips, liquidation penalties),
    price (SOL and LST/SOL basis moves on both legs)."""

    funding: Decimal = ZERO
    staking: Decimal = ZERO
    lending: Decimal = ZERO
    borrow: Decimal = ZERO
    fees: Decimal = ZERO
    price: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.funding + self.staking + self.lending + self.borrow + self.fees + self.price

    def __add__(self, other: PnlBreakdown) -> PnlBreakdown:
        return PnlBreakdown(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def add(self, **parts: Decimal) -> PnlBreakdown:
        return replace(self, **{name: getattr(self, name) + value for name, value in parts.items()})

    def to_cents(self, target: Decimal | None = None) -> PnlBreakdown:
        """Each part rounded to the cent, then the few cents of rounding residue moved one at a time onto the
        parts that rounding moved most the other way (never onto a part that is exactly zero), so that the
        parts sum exactly to the total rounded to the cent. `target` is that rounded total when the caller
        computed it independently (e.g. final equity - capital, in cents)."""
        exact = [getattr(self, name) for name in SOURCES]
        if target is None:
            target = self.total.quantize(CENT, rounding=ROUND_HALF_EVEN)
        rounded = [value.quantize(CENT, rounding=ROUND_HALF_EVEN) for value in exact]
        residue = int((target - sum(rounded, ZERO)) / CENT)
        step = CENT if residue > 0 else -CENT
        # the parts rounding lost most in the direction of the residue come first; exact zeros never take one
        order = sorted((i for i in range(len(exact)) if exact[i] != ZERO),
                       key=lambda i: (exact[i] - rounded[i]) * step, reverse=True)
        if not order:
            order = [SOURCES.index("price")]
        for n in range(abs(residue)):
            rounded[order[n % len(order)]] += step
        return PnlBreakdown(*rounded)

    def as_dict(self) -> dict[str, Decimal]:
        return {name: getattr(self, name) for name in SOURCES}

    def as_strings(self) -> dict[str, str]:
        return {name: format(getattr(self, name), "f") for name in SOURCES}
