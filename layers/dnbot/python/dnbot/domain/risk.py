"""Risk readings of a live position and the circuit breakers that act on them. Pure: numbers in, verdicts out.

The joint view: the long (Asgard) is liquidated by a SOL DROP, the short (Hyperliquid) by a SOL RISE. With
collateral value linear in the SOL price and the debt fixed in USDC, the long's health factor HF falls to 1
after a drop of 1 - 1/HF. The short is liquidated at Hyperliquid's liquidation price; the rise to it is
liq_px / price - 1. The smaller of the two moves is the position's distance to its first liquidation.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from dnbot.domain.presets import ExitRules

ONE = Decimal(1)
ZERO = Decimal(0)
LegName = Literal["long", "short"]


class ExitReason(StrEnum):
    KILL_SWITCH = "kill_switch"
    HEALTH_FACTOR = "health_factor"
    MARGIN_RATIO = "margin_ratio"
    LIQUIDATION_DISTANCE = "liquidation_distance"
    FUNDING_FLIPPED = "funding_flipped"
    CARRY_GONE = "carry_gone"
    DRAWDOWN = "drawdown"
    DEPEG = "depeg"
    DIVERGENCE = "divergence"


class Verdict(StrEnum):
    HOLD = "hold"
    REBALANCE = "rebalance"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class RiskReadings:
    """What the venues say about one live position now. None = not known: that check is skipped."""

    health_factor: Decimal | None = None  # Asgard: collateral x liquidation threshold / debt
    margin_ratio: Decimal | None = None  # Hyperliquid: maintenance margin / account value
    short_liquidation_price: Decimal | None = None  # Hyperliquid's liquidationPx of the short
    oracle_price_usd: Decimal | None = None  # Hyperliquid's SOL oracle price
    long_venue_sol_price_usd: Decimal | None = None  # the SOL price the long venue uses
    lst_depeg: Decimal | None = None  # 1 - LST market price / LST fair (redemption) value; 0 for SOL
    equity_usd: Decimal | None = None  # both legs' value now
    peak_equity_usd: Decimal | None = None  # the highest equity since the open
    # the joint distance to the first liquidation right after the open (or the last rebalance)
    liquidation_distance_at_open: Decimal | None = None
    long_value_usd: Decimal | None = None  # Asgard: the long's units now (supply interest in) x its price now
    long_debt_usd: Decimal | None = None  # Asgard: the long's USDC debt now (borrow interest in)
    # Hyperliquid's own valuation price of the short (its positionValue / size: the mark), which its account value,
    # unrealized PnL and liquidation use; None when not read (the oracle stands in)
    short_mark_price_usd: Decimal | None = None
    short_size_sol: Decimal | None = None  # Hyperliquid: the short's size now (the ledger's may lag a failed rebalance)


@dataclass(frozen=True, slots=True)
class JointView:
    long_drop_to_liquidation: Decimal | None  # a fraction of the SOL price
    short_rise_to_liquidation: Decimal | None

    @property
    def first(self) -> LegName | None:
        """Which leg a SOL move liquidates first: 'long', 'short' or None when neither is known."""
        drop, rise = self.long_drop_to_liquidation, self.short_rise_to_liquidation
        if drop is None and rise is None:
            return None
        if rise is None or (drop is not None and drop <= rise):
            return "long"
        return "short"

    @property
    def distance(self) -> Decimal | None:
        known = [d for d in (self.long_drop_to_liquidation, self.short_rise_to_liquidation) if d is not None]
        return min(known) if known else None


def long_drop_to_liquidation(health_factor: Decimal) -> Decimal:
    """The SOL drop (fraction) that takes the long's health factor to 1."""
    if health_factor <= ONE:
        return ZERO
    return ONE - ONE / health_factor


def short_rise_to_liquidation(liquidation_price: Decimal, price: Decimal) -> Decimal:
    if price <= ZERO:
        raise ValueError("price must be positive")
    return max(ZERO, liquidation_price / price - ONE)


def short_liquidation_price(account_value_usd: Decimal, size: Decimal, price: Decimal,
                            maintenance_margin_rate: Decimal) -> Decimal:
    """Hyperliquid isolated short: liquidated where account value + size x (price - p) = mmr x size x p."""
    if size <= ZERO:
        raise ValueError("size must be positive")
    return (account_value_usd + size * price) / (size * (ONE + maintenance_margin_rate))


def joint_view(readings: RiskReadings) -> JointView:
    drop = None if readings.health_factor is None else long_drop_to_liquidation(readings.health_factor)
    rise = None
    if readings.short_liquidation_price is not None and readings.oracle_price_usd:
        rise = short_rise_to_liquidation(readings.short_liquidation_price, readings.oracle_price_usd)
    return JointView(drop, rise)


PRICE_STEP = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class LiquidationPrices:
    """The SOL prices at which each leg is liquidated, and which one a SOL move reaches first."""

    long_usd: Decimal | None  # Asgard liquidates the long when SOL falls to this price
    short_usd: Decimal | None  # Hyperliquid liquidates the short when SOL rises to this price
    first: LegName | None  # the leg the joint distance (JointView.first) refers to

    @property
    def nearer_usd(self) -> Decimal | None:
        """The price of the leg liquidated first: the one the joint distance refers to."""
        return self.long_usd if self.first == "long" else self.short_usd if self.first == "short" else None


def liquidation_prices(readings: RiskReadings) -> LiquidationPrices:
    """Both legs' liquidation SOL prices from the same readings the joint view uses: the long's is the price now
    less its drop to liquidation (price x (1 - drop), to the cent; unknown without a price), the short's is
    Hyperliquid's own liquidation price."""
    view = joint_view(readings)
    price, drop = readings.oracle_price_usd, view.long_drop_to_liquidation
    long_usd = None if drop is None or not price else (price * (ONE - drop)).quantize(PRICE_STEP)
    return LiquidationPrices(long_usd, readings.short_liquidation_price, view.first)


def lst_depeg(lst_price_usd: Decimal, sol_price_usd: Decimal, fair_lst_sol_rate: Decimal) -> Decimal:
    """How far an LST trades below its fair SOL value: 1 - (LST price / SOL price) / fair rate, never negative
    (an LST above its fair value is no depeg). The prices come from ONE venue (Asgard's), so that the ratio is
    the venue's LST/SOL rate; the fair rate is the LST's redemption rate (at least its rate at the open)."""
    if sol_price_usd <= ZERO or fair_lst_sol_rate <= ZERO:
        raise ValueError("prices and rates must be positive")
    return max(ZERO, ONE - lst_price_usd / sol_price_usd / fair_lst_sol_rate)


def liquidation_threshold(drop_to_liquidation: Decimal, value_usd: Decimal, debt_usd: Decimal) -> Decimal | None:
    """The long's liquidation threshold as the venue applies it now: value x LT x (1 - drop) = debt."""
    if value_usd <= ZERO or debt_usd <= ZERO or drop_to_liquidation >= ONE:
        return None
    return debt_usd / (value_usd * (ONE - drop_to_liquidation))


def price_divergence(long_venue_price: Decimal, oracle_price: Decimal) -> Decimal:
    """|long venue / oracle - 1|: how far the venues disagree on SOL."""
    if oracle_price <= ZERO:
        raise ValueError("oracle price must be positive")
    return abs(long_venue_price / oracle_price - ONE)


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    verdict: Verdict
    reason: ExitReason | None
    explanation: str


def trailing_negative_hours(funding_history_hourly: tuple[Decimal, ...] | list[Decimal]) -> int:
    """Consecutive most recent hours (history oldest first) in which the short PAID funding (rate < 0)."""
    count = 0
    for rate in reversed(funding_history_hourly):
        if rate >= ZERO:
            break
        count += 1
    return count


def assess(readings: RiskReadings, rules: ExitRules) -> RiskVerdict:
    """The circuit breakers on the position's own readings, most urgent first. Rate-based exits (funding
    flipped, carry gone) live in the strategy because they need the funding history."""
    hf = readings.health_factor
    if hf is not None and hf < rules.min_health_factor:
        return RiskVerdict(Verdict.CLOSE, ExitReason.HEALTH_FACTOR,
                           f"Asgard health factor {hf:.4f} < {rules.min_health_factor}")
    mr = readings.margin_ratio
    if mr is not None and mr > rules.max_margin_ratio:
        return RiskVerdict(Verdict.CLOSE, ExitReason.MARGIN_RATIO,
                           f"Hyperliquid margin ratio {mr:.4f} > {rules.max_margin_ratio}")
    if readings.lst_depeg is not None and readings.lst_depeg > rules.max_depeg:
        return RiskVerdict(Verdict.CLOSE, ExitReason.DEPEG,
                           f"LST {readings.lst_depeg:.2%} below its SOL value > {rules.max_depeg:.2%}")
    if readings.long_venue_sol_price_usd is not None and readings.oracle_price_usd:
        gap = price_divergence(readings.long_venue_sol_price_usd, readings.oracle_price_usd)
        if gap > rules.max_divergence:
            return RiskVerdict(Verdict.CLOSE, ExitReason.DIVERGENCE,
                               f"venues disagree on SOL by {gap:.3%} > {rules.max_divergence:.3%}")
    if readings.equity_usd is not None and readings.peak_equity_usd:
        drawdown = (readings.peak_equity_usd - readings.equity_usd) / readings.peak_equity_usd
        if drawdown > rules.max_drawdown:
            return RiskVerdict(Verdict.CLOSE, ExitReason.DRAWDOWN,
                               f"drawdown {drawdown:.2%} from the position's peak > {rules.max_drawdown:.2%}")
    view = joint_view(readings)
    distance = view.distance
    at_open = readings.liquidation_distance_at_open
    if distance is not None and at_open is not None and distance < at_open * rules.rebalance_share:
        return RiskVerdict(Verdict.REBALANCE, ExitReason.LIQUIDATION_DISTANCE,
                           f"a {distance:.1%} SOL move liquidates the {view.first} leg (was {at_open:.1%} at "
                           f"the open; rebalance under {rules.rebalance_share:.0%} of it)")
    what = ("no reading" if distance is None
            else f"{distance:.1%} SOL move to the first liquidation ({view.first})")
    return RiskVerdict(Verdict.HOLD, None, f"within limits: {what}")
