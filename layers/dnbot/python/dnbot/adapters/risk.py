"""Live risk readings of one position, from both venues: Asgard's health factor, Hyperliquid's margin and
liquidation price, and each venue's SOL price (for the divergence check)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from dnbot.domain.positions import Position
from dnbot.domain.rebalance import long_drop
from dnbot.domain.risk import (
    RiskReadings,
    liquidation_threshold,
    lst_depeg,
    short_rise_to_liquidation,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")


class HealthReading(Protocol):
    """Asgard's reading of one long (dnbot.adapters.asgard.health.LongHealth)."""

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


def _read(what: str, read: Callable[[], T]) -> T | None:
    """A reading that fails is unknown (its check is skipped this tick), never a made-up number."""
    try:
        return read()
    except Exception as error:  # every venue failure ends the same way: no reading this tick
        logger.warning("could not read %s: %s", what, error)
        return None


def margin_from_clearinghouse(state: dict[str, Any], coin: str = "SOL") -> tuple[Decimal | None, Decimal | None]:
    """(margin ratio = maintenance margin / account value, the coin's liquidation price) from clearinghouseState."""
    value = Decimal(str(state.get("marginSummary", {}).get("accountValue", "0")))
    maintenance = Decimal(str(state.get("crossMaintenanceMarginUsed", "0")))
    ratio = maintenance / value if value > 0 else None
    liquidation = None
    for entry in state.get("assetPositions", []):
        position = entry.get("position", {})
        if position.get("coin") == coin and position.get("liquidationPx") not in (None, ""):
            liquidation = Decimal(str(position["liquidationPx"]))
    return ratio, liquidation


class VenueRiskReader:
    """Implements RiskReader."""

    def __init__(self, long_health: Callable[[str, str], HealthReading | None],
                 clearinghouse_state: Callable[[str], dict[str, Any]], address_of: Callable[[str], str],
                 hyperliquid_oracle_price: Callable[[], Decimal], long_venue_sol_price: Callable[[], Decimal],
                 funding_of: Callable[[Position], Decimal] | None = None) -> None:
        """`funding_of(position)`: the funding the position's short collected so far (Hyperliquid pays it to the
        account, not to the legs): part of the position's equity, so carry is not read as a drawdown."""
        self._funding_of = funding_of
        self._long_health = long_health
        self._clearinghouse = clearinghouse_state
        self._address_of = address_of
        self._oracle = hyperliquid_oracle_price
        self._long_price = long_venue_sol_price

    def readings(self, position: Position) -> RiskReadings:
        health = _read("Asgard health", lambda: self._long_health(position.user_id, position.position_id))
        state = _read("Hyperliquid margin", lambda: self._clearinghouse(self._address_of(position.user_id)))
        ratio, liquidation = margin_from_clearinghouse(state) if state is not None else (None, None)
        oracle = _read("Hyperliquid oracle", self._oracle)
        long_sol_price = _read("Asgard SOL price", self._long_price)
        return RiskReadings(
            health_factor=health.health_factor if health is not None else None,
            margin_ratio=ratio,
            short_liquidation_price=liquidation,
            oracle_price_usd=oracle,
            long_venue_sol_price_usd=long_sol_price,
            lst_depeg=_depeg(position, health, long_sol_price),
            equity_usd=_plus(_plus(_equity(position, health, oracle), self._funding(position)),
                             position.rebalance_cash_usd),
            peak_equity_usd=_peak_equity(position),
            liquidation_distance_at_open=_distance_at_open(position, health, liquidation),
        )

    def _funding(self, position: Position) -> Decimal | None:
        if self._funding_of is None:
            return Decimal(0)
        funding_of = self._funding_of
        return _read("Hyperliquid funding", lambda: funding_of(position))


def _plus(value: Decimal | None, more: Decimal | None) -> Decimal | None:
    return None if value is None or more is None else value + more


def _depeg(position: Position, health: HealthReading | None, sol_price: Decimal | None) -> Decimal | None:
    """The LST's rate at Asgard now (its price / Asgard's SOL price) against its rate at the open (what the
    long paid per unit / what the short sold SOL at): the redemption rate only grows, so a lower rate now is
    the market discounting the LST."""
    if not position.asset.is_lst:
        return Decimal(0)
    if health is None or sol_price is None or health.size <= 0 or health.value_usd <= 0:
        return None
    if position.long_leg is None or position.short_leg is None or position.short_leg.entry_price <= 0:
        return None
    rate_at_open = position.long_leg.entry_price / position.short_leg.entry_price
    return lst_depeg(health.value_usd / health.size, sol_price, rate_at_open)


def _equity(position: Position, health: HealthReading | None, oracle: Decimal | None) -> Decimal | None:
    """The position's equity at the venues now: the long's value less its debt (Asgard) plus the short's
    unrealized PnL (its own size x (entry - oracle)); the funding it collected is added by the reader."""
    if health is None or oracle is None or position.short_leg is None or health.value_usd <= 0:
        return None
    short_pnl = position.short_leg.size * (position.short_leg.entry_price - oracle)
    return health.value_usd - health.debt_usdc + short_pnl


def _equity_at_open(position: Position) -> Decimal | None:
    """The equity the position started with (the long's collateral; the short's PnL starts at 0). The drawdown
    is measured from the higher of it and the peak the tick keeps on the position (`peak_equity_usd`)."""
    if position.long_leg is None or position.leverage <= 0:
        return None
    return (position.long_leg.notional_usd / position.leverage + position.rebalance_collateral_usd
            - position.long_leg.fees_usd)


def _peak_equity(position: Position) -> Decimal | None:
    """The higher of the equity at the open and the peak the tick stored on the position."""
    known = [e for e in (_equity_at_open(position), position.peak_equity_usd) if e is not None]
    return max(known) if known else None


def _distance_at_open(position: Position, health: HealthReading | None,
                      short_liquidation_price: Decimal | None) -> Decimal | None:
    """The joint distance to the first liquidation right after the open, from what the venues apply now: the
    long's liquidation threshold (Asgard's health with its value and debt) applied to the long at its entry,
    and the short's liquidation price against its entry price."""
    distances: list[Decimal] = []
    if health is not None and position.long_leg is not None and position.leverage > 1:
        threshold = liquidation_threshold(health.drop_to_liquidation, health.value_usd, health.debt_usdc)
        if threshold is not None:
            value_open = position.long_leg.notional_usd
            debt_open = value_open * (position.leverage - 1) / position.leverage
            distances.append(long_drop(value_open, debt_open, threshold))
    if short_liquidation_price is not None and position.short_leg is not None \
            and position.short_leg.entry_price > 0:
        distances.append(short_rise_to_liquidation(short_liquidation_price, position.short_leg.entry_price))
    return min(distances) if distances else None
