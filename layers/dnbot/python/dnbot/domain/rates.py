"""Market rates as the strategy sees them. Every rate names its period: `_apy` is a simple annual rate
(0.05 = 5%/year), `_hourly` a per-hour rate (0.0000125 = 0.00125%/hour)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from dnbot.domain.assets import Asset, Protocol

HOURS_PER_YEAR = Decimal(8760)


def hourly_to_apy(rate_hourly: Decimal) -> Decimal:
    """Simple annualization, as the venues display it: hourly x 8760."""
    return rate_hourly * HOURS_PER_YEAR


def apy_to_hourly(rate_apy: Decimal) -> Decimal:
    return rate_apy / HOURS_PER_YEAR


@dataclass(frozen=True, slots=True)
class LendingMarket:
    """One Asgard market: a long of `asset` on `protocol`, financed by borrowing USDC there."""

    asset: Asset
    protocol: Protocol
    supply_apy: Decimal  # earned on the asset supplied as collateral (an LST's is ~0: its yield is staking)
    usdc_borrow_apy: Decimal  # paid on the USDC debt
    staking_apy: Decimal  # the LST's own staking yield; 0 for SOL
    max_leverage: Decimal | None = None
    borrow_capacity_usd: Decimal | None = None  # USDC still borrowable on this protocol, if known
    deposit_capacity_usd: Decimal | None = None  # asset still depositable, if known
    price_usd: Decimal | None = None  # the asset's USD price at Asgard when polled (an LST's depeg), if read


@dataclass(frozen=True, slots=True)
class FundingQuote:
    """Hyperliquid SOL-PERP. POSITIVE funding = longs pay shorts: the bot's short EARNS it, every hour."""

    funding_hourly: Decimal  # the rate of the current hour (Hyperliquid publishes the hourly rate)
    predicted_funding_hourly: Decimal | None  # the venue's prediction for the next hour, if known
    mark_price: Decimal
    oracle_price: Decimal
    open_interest: Decimal | None = None

    @property
    def funding_apy(self) -> Decimal:
        return hourly_to_apy(self.funding_hourly)


@dataclass(frozen=True, slots=True)
class RatesSnapshot:
    """What the rates poller stores each minute and the API and tick read."""

    at: datetime
    markets: tuple[LendingMarket, ...]
    funding: FundingQuote
    sol_price_usd: Decimal  # the long venue's SOL price (for price consensus with Hyperliquid's oracle)
    source: str  # where it came from: "asgard+hyperliquid", "sim", "recorded"

    def market(self, asset: Asset, protocol: Protocol) -> LendingMarket | None:
        for market in self.markets:
            if market.asset is asset and market.protocol is protocol:
                return market
        return None
