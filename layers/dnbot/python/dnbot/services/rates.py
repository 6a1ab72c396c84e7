"""Polling venue rates into a snapshot, and reading them back for the dashboard."""

from __future__ import annotations

from decimal import Decimal

from dnbot.domain.carry import DEFAULT_FEES, REFERENCE_CAPITAL_USD
from dnbot.domain.presets import Preset
from dnbot.domain.rates import RatesSnapshot
from dnbot.domain.strategy import Candidate, rank_markets
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


def rate_markets(snapshot: RatesSnapshot, leverage: Decimal,
                 holding_hours: int = Preset.parse("balanced").expected_holding_hours) -> list[Candidate]:
    """The markets a position at this leverage can use (leverage caps and capacities respected), best net APY
    first, fees amortized over the holding period: the strategy's own ranking (`rank_markets`)."""
    return rank_markets(snapshot.markets, snapshot.funding.funding_hourly, leverage, DEFAULT_FEES, holding_hours,
                        REFERENCE_CAPITAL_USD)
