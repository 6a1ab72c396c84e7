"""PnL attribution by source. The parts are accumulated exactly (Decimal) as the position lives, and rounded
to cents at the end so that they still sum to the rounded total to the cent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

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

    def to_cents(self, target: Decimal | None = None, fixed: tuple[str, ...] = ()) -> PnlBreakdown:
        """Each part rounded to the cent, then the few cents of rounding residue moved one at a time onto the
        parts that rounding moved most the other way (never onto a part that is exactly zero), so that the
        parts sum exactly to the total rounded to the cent. `target` is that rounded total when the caller
        computed it independently (e.g. final equity - capital, in cents). The `fixed` parts (a venue's own
        record, like the funding Hyperliquid paid) keep their own rounding and take no residue while another part
        can."""
        exact = [getattr(self, name) for name in SOURCES]
        if target is None:
            target = self.total.quantize(CENT, rounding=ROUND_HALF_EVEN)
        # + ZERO: a part under half a cent below zero rounds to -0.00, which a trader should read as 0.00
        rounded = [value.quantize(CENT, rounding=ROUND_HALF_EVEN) + ZERO for value in exact]
        residue = int((target - sum(rounded, ZERO)) / CENT)
        step = CENT if residue > 0 else -CENT
        # the parts rounding lost most in the direction of the residue come first; exact zeros never take one
        order = sorted((i for i in range(len(exact)) if exact[i] != ZERO),
                       key=lambda i: (exact[i] - rounded[i]) * step, reverse=True)
        order = [i for i in order if SOURCES[i] not in fixed] or order
        if not order:
            order = [SOURCES.index("price")]
        for n in range(abs(residue)):
            rounded[order[n % len(order)]] += step
        return PnlBreakdown(*rounded)

    def as_dict(self) -> dict[str, Decimal]:
        return {name: getattr(self, name) for name in SOURCES}

    def as_strings(self) -> dict[str, str]:
        return {name: format(getattr(self, name), "f") for name in SOURCES}


def attribute_realized(*, total_usd: Decimal, funding_usd: Decimal, fees_usd: Decimal,
                       borrow_interest_usd: Decimal, supply_interest_usd: Decimal = ZERO,
                       staking_usd: Decimal = ZERO) -> PnlBreakdown:
    """A closed position's realized PnL split by source, in cents summing exactly to `total_usd` in cents.

    What the venues measure directly is passed in (amounts as received or paid, all >= 0 except funding,
    which is signed: + when the short earned): Hyperliquid's funding payments, every fee (taker, Asgard,
    swaps, tips, bridge), the USDC interest the debt grew by, the supply interest the long's units grew by,
    and the staking yield (see `staking_usd_from_rate`). `price` is what the total leaves: both legs' price
    moves, which cancel when delta-neutral, and the LST/SOL basis.
    """
    measured = PnlBreakdown(funding=funding_usd, staking=staking_usd, lending=supply_interest_usd,
                            borrow=-abs(borrow_interest_usd), fees=-abs(fees_usd))
    exact = measured.add(price=total_usd - measured.total)
    return exact.to_cents(target=total_usd.quantize(CENT, rounding=ROUND_HALF_EVEN), fixed=("funding",))


def staking_usd_from_rate(lst_units: Decimal, lst_sol_rate_open: Decimal, lst_sol_rate_close: Decimal,
                          sol_price_usd: Decimal) -> Decimal:
    """An LST's staking yield over the position: its SOL redemption rate grew, valued at one SOL price (the
    open's, so that the SOL move stays in `price`)."""
    return lst_units * (lst_sol_rate_close - lst_sol_rate_open) * sol_price_usd


def split_by_size(total_usd: Decimal, sizes: Mapping[str, Decimal], quantum: Decimal = CENT) -> dict[str, Decimal]:
    """One payment made to an account, split across the holders of its position by their sizes then.

    Hyperliquid pays funding to the account every hour; the bot's positions share that account, so each one's
    part is payment x its size / the account's size. Each part is a multiple of `quantum` and the parts sum
    EXACTLY to the payment rounded to `quantum` (largest remainder: every part is first rounded down, then the
    few quanta left go to the largest remainders, ties by key so that every caller gets the same split).
    Holders with no positive size get 0. At least one size must be positive.
    """
    positive = {key: size for key, size in sizes.items() if size > ZERO}
    if not positive:
        raise ValueError("nobody held a position to split the payment over")
    if quantum <= ZERO:
        raise ValueError("the quantum must be positive")
    whole = sum(positive.values(), ZERO)
    target = total_usd.quantize(quantum, rounding=ROUND_HALF_EVEN)
    units = (target / quantum).to_integral_value()
    exact = {key: units * size / whole for key, size in positive.items()}
    floored = {key: value.to_integral_value(rounding=ROUND_FLOOR) for key, value in exact.items()}
    left = int(units - sum(floored.values(), ZERO))
    for key in sorted(positive, key=lambda k: (floored[k] - exact[k], k))[:left]:
        floored[key] += 1
    parts = dict.fromkeys(sizes, ZERO)
    parts.update({key: (value * quantum).quantize(quantum) for key, value in floored.items()})
    return parts


@dataclass(frozen=True)
class FundingShare:
    """One position's part of one hourly funding payment the venue made to the account (positive: received).

    `share_usd` is split_by_size of `account_usd` over the positions' sizes that hour, so the shares of a payment
    add up to it and a position's shares add up to its funding PnL."""

    at: datetime  # the hour the venue paid, UTC
    position_id: str
    share_usd: Decimal
    account_usd: Decimal  # the whole payment to the account
    size_sol: Decimal  # this position's short that hour
    funding_rate_hourly: Decimal

