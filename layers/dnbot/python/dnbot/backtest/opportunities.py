"""The opportunity list at one recorded hour: every asset x protocol x leverage that has data, by net APY."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from dnbot.backtest.history import MarketHistory
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.carry import (
    DEFAULT_FEES,
    REFERENCE_CAPITAL_USD,
    CarryComponents,
    FeeSchedule,
    carry_components,
    fee_drag_apy,
)

LEVERAGES = (Decimal(2), Decimal(3), Decimal(4))
# Printed APYs keep 12 decimals: far below a basis point, and the gross is the exact sum of the printed parts.
_QUANTUM = Decimal("1e-12")


@dataclass(frozen=True, slots=True)
class Opportunity:
    asset: Asset
    protocol: Protocol
    leverage: Decimal
    components: CarryComponents
    net_apy: Decimal

    @property
    def gross_apy(self) -> Decimal:
        return self.components.gross

    def to_json(self) -> dict[str, object]:
        return {
            "asset": self.asset.value,
            "protocol": self.protocol.label,
            "leverage": str(self.leverage),
            "gross_apy": _text(self.gross_apy),
            "net_apy": _text(self.net_apy),
            "components": {name: _text(value) for name, value in (
                ("staking", self.components.staking), ("supply", self.components.supply),
                ("borrow", self.components.borrow), ("funding", self.components.funding))},
            "rebalances_in_place": self.protocol.rebalances_in_place,
        }


def _text(value: Decimal) -> str:
    """A plain decimal string (never exponent notation)."""
    return format(value, "f")


def _q(value: Decimal) -> Decimal:
    return value.quantize(_QUANTUM) + 0  # + 0 turns a negative zero (a 0% borrow) into "0.000..."


def opportunities_at(history: MarketHistory, hour: datetime, leverages: Iterable[Decimal] = LEVERAGES, *,
                     fees: FeeSchedule = DEFAULT_FEES, holding_hours: int = 240,
                     capital_usd: Decimal = REFERENCE_CAPITAL_USD,
                     assets: Iterable[Asset] | None = None,
                     protocols: Iterable[Protocol] | None = None) -> list[Opportunity]:
    """Net APY = gross carry on capital - the round trip's fees amortized over `holding_hours`. Only pairs
    with data at `hour` (see history.py) are listed; none when the hour's funding is not recorded."""
    funding = history.funding_hourly.get(hour)
    if funding is None:
        return []
    wanted_assets = set(assets) if assets is not None else set(Asset)
    wanted_protocols = set(protocols) if protocols is not None else set(Protocol)
    found: list[Opportunity] = []
    for leverage in leverages:
        drag = _q(fee_drag_apy(fees, leverage, holding_hours, capital_usd))
        for market in history.markets_at(hour):
            if market.asset not in wanted_assets or market.protocol not in wanted_protocols:
                continue
            raw = carry_components(market, funding, leverage)
            components = CarryComponents(_q(raw.staking), _q(raw.supply), _q(raw.borrow), _q(raw.funding))
            found.append(Opportunity(market.asset, market.protocol, leverage, components,
                                     components.gross - drag))
    found.sort(key=lambda o: (-o.net_apy, o.asset.value, o.protocol.value, o.leverage))
    return found
