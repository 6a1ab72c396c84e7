"""Polling venue rates into a snapshot, and reading them back for the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dnbot.domain.carry import DEFAULT_FEES, CarryComponents, carry_components, net_apy
from dnbot.domain.presets import Preset
from dnbot.domain.rates import LendingMarket, RatesSnapshot
from dnbot.ports import Clock, FundingSource, LendingMarketSource, RatesStore
from dnbot.services.errors import NotFound


class RatesService:
    def __init__(self, markets: LendingMarketSource, funding: FundingSource, store: RatesStore, clock: Clock,
                 source_name: str) -> None:
        self._markets = markets
        self._funding = funding
        self._store = store
        self._clock = clock
        self._source_name = source_name

    def poll(self) -> RatesSnapshot:
        """Read both venues once and store the snapshot (the rates_poller Lambda, every minute)."""
        snapshot = RatesSnapshot(
            at=self._clock.now(),
            markets=tuple(self._markets.lending_markets()),
            funding=self._funding.sol_funding(),
            sol_price_usd=self._markets.sol_price_usd(),
            source=self._source_name,
        )
        self._store.put_snapshot(snapshot)
        return snapshot

    def latest(self) -> RatesSnapshot:
        snapshot = self._store.latest_snapshot()
        if snapshot is None:
            raise NotFound("No rates have been polled yet; the poller runs every minute.", code="no_rates_yet")
        return snapshot


@dataclass(frozen=True, slots=True)
class RatedMarket:
    """One asset x protocol at one leverage, with what it would earn on capital."""

    market: LendingMarket
    leverage: Decimal
    components: CarryComponents
    net_apy: Decimal


def rate_markets(snapshot: RatesSnapshot, leverage: Decimal,
                 holding_hours: int = Preset.parse("balanced").expected_holding_hours) -> list[RatedMarket]:
    """Every market of the snapshot at this leverage, best net APY first (fees amortized over the holding)."""
    rated = []
    for market in snapshot.markets:
        components = carry_components(market, snapshot.funding.funding_hourly, leverage)
        rated.append(RatedMarket(market, leverage, components,
                                 net_apy(components, DEFAULT_FEES, leverage, holding_hours)))
    return sorted(rated, key=lambda r: r.net_apy, reverse=True)
