"""Live risk readings of one position, from both venues: Asgard's health factor, Hyperliquid's margin and
liquidation price, and each venue's SOL price (for the divergence check). I/O only: the arithmetic on these
readings (depeg, equity, peak, distance at the open) is dnbot.domain.position_risk."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from dnbot.domain.position_risk import (
    LongReading,
    known_sum,
    legs_equity_usd,
    liquidation_distance_at_open,
    lst_depeg_since_open,
    peak_equity_usd,
)
from dnbot.domain.positions import Position
from dnbot.domain.risk import RiskReadings

logger = logging.getLogger(__name__)
T = TypeVar("T")


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


def short_from_clearinghouse(state: dict[str, Any], coin: str = "SOL") -> tuple[Decimal, Decimal] | None:
    """The coin's position as Hyperliquid holds it: (its size, the price it values it at: positionValue / |szi|,
    its mark), None without one."""
    for entry in state.get("assetPositions", []):
        position = entry.get("position", {})
        if position.get("coin") != coin:
            continue
        size = abs(Decimal(str(position.get("szi") or "0")))
        value = position.get("positionValue")
        if size > 0 and value not in (None, ""):
            return size, Decimal(str(value)) / size
    return None


class VenueRiskReader:
    """Implements RiskReader."""

    def __init__(self, long_health: Callable[[str, str], LongReading | None],
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
        short = short_from_clearinghouse(state) if state is not None else None
        mark = short[1] if short is not None else None
        oracle = _read("Hyperliquid oracle", self._oracle)
        long_sol_price = _read("Asgard SOL price", self._long_price)
        return RiskReadings(
            health_factor=health.health_factor if health is not None else None,
            margin_ratio=ratio,
            short_liquidation_price=liquidation,
            oracle_price_usd=oracle,
            long_venue_sol_price_usd=long_sol_price,
            lst_depeg=lst_depeg_since_open(position, health, long_sol_price),
            equity_usd=known_sum(known_sum(legs_equity_usd(position, health, mark or oracle), self._funding(position)),
                                 position.rebalance_cash_usd),
            peak_equity_usd=peak_equity_usd(position),
            liquidation_distance_at_open=liquidation_distance_at_open(position, health, liquidation),
            long_value_usd=health.value_usd if health is not None else None,
            long_debt_usd=health.debt_usdc if health is not None else None,
            short_mark_price_usd=mark,
            short_size_sol=short[0] if short is not None else None,
        )

    def _funding(self, position: Position) -> Decimal | None:
        if self._funding_of is None:
            return Decimal(0)
        funding_of = self._funding_of
        return _read("Hyperliquid funding", lambda: funding_of(position))

