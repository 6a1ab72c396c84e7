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
        """Each part to the cent, the rounding residue given to the parts that lost the most to rounding
        (largest remainder), so that the parts sum exactly to the total rounded to the cent. `target` is that
        rounded total when the caller computed it independently (e.g. final equity - capital, in cents)."""
        exact = [getattr(self, name) for name in SOURCES]
        if target is None:
            target = self.total.quantize(CENT, rounding=ROUND_HALF_EVEN)
        floored = [value.quantize(CENT, rounding="ROUND_FLOOR") for value in exact]
        cents_left = int((target - sum(floored, ZERO)) / CENT)
        order = sorted(range(len(exact)), key=lambda i: exact[i] - floored[i], reverse=True)
        for i in order[:cents_left]:
            floored[i] += CENT
        return PnlBreakdown(*floored)

    def as_dict(self) -> dict[str, Decimal]:
        return {name: getattr(self, name) for name in SOURCES}

    def as_strings(self) -> dict[str, str]:
        return {name: format(getattr(self, name), "f") for name in SOURCES}
