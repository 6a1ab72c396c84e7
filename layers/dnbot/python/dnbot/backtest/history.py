"""Recorded data as the strategy sees it, hour by hour: `LendingMarket`s and `RatesSnapshot`s built once.

Which pairs have data at an hour (the same rule for `dnbot opportunities` and the backtester):
- every pair needs the protocol's USDC reserve rates (the borrow) at that hour;
- SOL needs the protocol's SOL reserve rates (its supply rate); its staking is 0;
- an LST needs its hourly staking APY (recorded for jitoSOL only); its supply is 0 because no LST reserve
  rate is recorded. jupSOL and INF have only a one-day staking snapshot, so they never have hourly data.
A snapshot also needs the hour's Hyperliquid funding and the hour's SOL candle. Nothing is interpolated here:
a missing hour is missing. The backtester decides what a gap means for an open position (see engine.py).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.rates import HOURS_PER_YEAR, FundingQuote, LendingMarket, RatesSnapshot
from dnbot.marketdata.recorded import Candle, LendingPoint, RecordedData

ZERO = Decimal(0)
ONE = Decimal(1)
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class HourRates:
    """The rates an open position accrues in one hour, with their one-hour growth factors precomputed."""

    market: LendingMarket  # recorded at that hour, or carried forward rate by rate
    stake_growth: Decimal  # 1 + staking_apy / 8760: the LST/SOL rate's growth
    supply_growth: Decimal  # 1 + supply_apy / 8760: the long's units' growth
    borrow_growth: Decimal  # 1 + usdc_borrow_apy / 8760: the debt's growth
    carried: bool  # some rate was carried forward from an earlier hour
# token_config.json spells the symbols its own way
_CONFIG_SYMBOL = {Asset.SOL: "SOL", Asset.JITOSOL: "JitoSOL", Asset.JUPSOL: "JUPSOL", Asset.INF: "INF"}


class MarketHistory:
    """Hour-keyed markets, funding and prices from a `RecordedData`, each built once and cached."""

    def __init__(self, data: RecordedData) -> None:
        self.data = data
        self.funding_hourly: dict[datetime, Decimal] = data.funding_hourly
        self.candles: dict[datetime, Candle] = data.sol_hourly_candles
        self._usdc: dict[Protocol, dict[datetime, LendingPoint]] = {
            p: data.lending_hourly(p, "usdc") for p in Protocol}
        self._sol: dict[Protocol, dict[datetime, LendingPoint]] = {
            p: data.lending_hourly(p, "sol") for p in Protocol}
        self._staking: dict[Asset, dict[datetime, Decimal]] = {
            a: data.staking_hourly(a) for a in Asset if a.is_lst}
        self.max_leverage = self._max_leverages(data)
        self._funding_hours = sorted(self.funding_hourly)
        self._funding_values = [self.funding_hourly[h] for h in self._funding_hours]
        self._markets: dict[datetime, tuple[LendingMarket, ...]] = {}
        self._pair_hours: dict[tuple[Asset, Protocol], dict[datetime, HourRates]] = {}
        self._candle_hours = sorted(self.candles)
        self._funding_paid: dict[datetime, tuple[Decimal, bool]] | None = None
        self._candle_rows = [(hour, self.candles[hour]) for hour in self._candle_hours]
        self._first_hours: dict[tuple[Asset, Protocol], datetime | None] = {}
        # other views derived once from this history (e.g. the scan's float arrays), keyed by their builder
        self.derived: dict[object, object] = {}

    @staticmethod
    def _max_leverages(data: RecordedData) -> dict[tuple[Asset, Protocol], Decimal]:
        """Asgard's long max leverage per (asset, protocol) main market, from the recorded token config."""
        found: dict[tuple[Asset, Protocol], Decimal] = {}
        config = data.token_config
        for asset, symbol in _CONFIG_SYMBOL.items():
            for bank in config.get(symbol, {}).get("banks", []):
                limit = (bank.get("maxLeverage") or {}).get("long")
                if limit is None or bank.get("market") != "Main Market":
                    continue
                try:
                    protocol = Protocol.parse(bank["protocol"])
                except ValueError:
                    continue
                found[(asset, protocol)] = Decimal(str(limit))
        return found

    def pairs(self) -> list[tuple[Asset, Protocol]]:
        return [(a, p) for a in Asset for p in Protocol]

    def market(self, asset: Asset, protocol: Protocol, hour: datetime,
               with_limits: bool = True) -> LendingMarket | None:
        usdc = self._usdc[protocol].get(hour)
        if usdc is None:
            return None
        if asset is Asset.SOL:
            sol = self._sol[protocol].get(hour)
            if sol is None:
                return None
            supply, staking = sol.supply_apy, ZERO
        else:
            staked = self._staking[asset].get(hour)
            if staked is None:
                return None
            supply, staking = ZERO, staked
        limit = self.max_leverage.get((asset, protocol)) if with_limits else None
        return LendingMarket(asset, protocol, supply, usdc.borrow_apy, staking, max_leverage=limit)

    def market_or_carried(self, last: LendingMarket, hour: datetime) -> tuple[LendingMarket, bool]:
        """`last`'s market at `hour`, each rate from its own series where recorded and carried forward from
        `last` where not. The flag says whether anything was carried."""
        asset, protocol = last.asset, last.protocol
        usdc = self._usdc[protocol].get(hour)
        borrow = last.usdc_borrow_apy if usdc is None else usdc.borrow_apy
        carried = usdc is None
        if asset is Asset.SOL:
            sol = self._sol[protocol].get(hour)
            supply, staking = (last.supply_apy, ZERO) if sol is None else (sol.supply_apy, ZERO)
            carried = carried or sol is None
        else:
            staked = self._staking[asset].get(hour)
            supply, staking = ZERO, last.staking_apy if staked is None else staked
            carried = carried or staked is None
        if not carried and supply == last.supply_apy and borrow == last.usdc_borrow_apy \
                and staking == last.staking_apy:
            return last, False
        return LendingMarket(asset, protocol, supply, borrow, staking, max_leverage=last.max_leverage), carried

    def pair_hours(self, asset: Asset, protocol: Protocol) -> dict[datetime, HourRates]:
        """Every hour from the pair's first recorded hour to the last candle, each rate from its own series
        where recorded and carried forward where not. Built once per pair and shared by every run."""
        key = (asset, protocol)
        cached = self._pair_hours.get(key)
        if cached is not None:
            return cached
        series: dict[datetime, HourRates] = {}
        first = self.first_hour_of(asset, protocol)
        if first is not None and self._candle_hours:
            last = self.market(asset, protocol, first, with_limits=False)
            assert last is not None
            hour, end = first, max(self._candle_hours[-1], first)
            previous: HourRates | None = None
            while hour <= end:
                market, carried = self.market_or_carried(last, hour)
                if previous is not None and market is previous.market:
                    rates = previous if previous.carried == carried else HourRates(
                        market, previous.stake_growth, previous.supply_growth, previous.borrow_growth, carried)
                else:
                    rates = HourRates(market, ONE + market.staking_apy / HOURS_PER_YEAR,
                                      ONE + market.supply_apy / HOURS_PER_YEAR,
                                      ONE + market.usdc_borrow_apy / HOURS_PER_YEAR, carried)
                series[hour] = previous = rates
                last = market
                hour += HOUR
        self._pair_hours[key] = series
        return series

    def funding_paid(self) -> dict[datetime, tuple[Decimal, bool]]:
        """For each candle hour h: the funding rate Hyperliquid pays at the END of h (recorded at h + 1), and
        whether it was carried forward from the last recorded rate (0 before the first one)."""
        if self._funding_paid is None:
            paid: dict[datetime, tuple[Decimal, bool]] = {}
            last = ZERO
            for hour in self._candle_hours:
                rate = self.funding_hourly.get(hour + HOUR)
                if rate is None:
                    paid[hour] = (last, True)
                else:
                    paid[hour] = (rate, False)
                    last = rate
            self._funding_paid = paid
        return self._funding_paid

    def last_candle_hour(self) -> datetime | None:
        return self._candle_hours[-1] if self._candle_hours else None

    def candles_between(self, start: datetime, end: datetime) -> list[tuple[datetime, Candle]]:
        return self._candle_rows[bisect_left(self._candle_hours, start):bisect_right(self._candle_hours, end)]

    def markets_at(self, hour: datetime) -> tuple[LendingMarket, ...]:
        cached = self._markets.get(hour)
        if cached is None:
            built = (self.market(a, p, hour) for a, p in self.pairs())
            cached = tuple(m for m in built if m is not None)
            self._markets[hour] = cached
        return cached

    def snapshot_at(self, hour: datetime) -> RatesSnapshot | None:
        """The snapshot the tick would have seen at `hour` (None when the hour's funding or price is missing).
        No predicted funding is recorded per hour, so the prediction is None."""
        funding = self.funding_hourly.get(hour)
        candle = self.candles.get(hour)
        if funding is None or candle is None:
            return None
        quote = FundingQuote(funding_hourly=funding, predicted_funding_hourly=None, mark_price=candle.open,
                             oracle_price=candle.open)
        return RatesSnapshot(at=hour, markets=self.markets_at(hour), funding=quote, sol_price_usd=candle.open,
                             source="recorded")

    def funding_history(self, hour: datetime, hours: int) -> list[Decimal]:
        """The last `hours` RECORDED hourly rates up to and including `hour`, oldest first (gaps skipped)."""
        end = bisect_right(self._funding_hours, hour)
        return self._funding_values[max(0, end - hours):end]

    def first_hour_of(self, asset: Asset, protocol: Protocol) -> datetime | None:
        """The first hour the pair has every rate it needs (cached)."""
        key = (asset, protocol)
        if key not in self._first_hours:
            own = self._sol[protocol] if asset is Asset.SOL else self._staking[asset]
            both = sorted(self._usdc[protocol].keys() & own.keys())
            self._first_hours[key] = both[0] if both else None
        return self._first_hours[key]

    def mean_markets_at(self, hour: datetime, hours: int) -> tuple[LendingMarket, ...]:
        """Each pair's mean recorded rates over the `hours` hours ending at `hour` (inclusive), for the pairs
        with data at `hour`: what the tick computes from the lookback of stored snapshots (cached per hour)."""
        key = ("mean_markets", hour, hours)
        cached = self.derived.get(key)
        if cached is None:
            means = []
            for market in self.markets_at(hour):
                hours_list, sums = self._pair_sums(market.asset, market.protocol)
                lo = bisect_left(hours_list, hour - (hours - 1) * HOUR)
                hi = bisect_right(hours_list, hour)
                count = Decimal(hi - lo)
                supply, borrow, staking = ((sums[i][hi] - sums[i][lo]) / count for i in range(3))
                means.append(LendingMarket(market.asset, market.protocol, supply, borrow, staking))
            cached = tuple(means)
            self.derived[key] = cached
        assert isinstance(cached, tuple)
        return cached

    def _pair_sums(self, asset: Asset, protocol: Protocol) -> tuple[list[datetime], list[list[Decimal]]]:
        """The pair's recorded hours and the running sums of its supply, borrow and staking APY (cached)."""
        key = ("pair_sums", asset, protocol)
        cached = self.derived.get(key)
        if cached is None:
            own = self._sol[protocol] if asset is Asset.SOL else self._staking[asset]
            hours_list = sorted(self._usdc[protocol].keys() & own.keys())
            sums: list[list[Decimal]] = [[ZERO], [ZERO], [ZERO]]
            for moment in hours_list:
                market = self.market(asset, protocol, moment, with_limits=False)
                assert market is not None
                for i, value in enumerate((market.supply_apy, market.usdc_borrow_apy, market.staking_apy)):
                    sums[i].append(sums[i][-1] + value)
            cached = (hours_list, sums)
            self.derived[key] = cached
        assert isinstance(cached, tuple)
        return cached

    def first_hour_with_markets(self) -> datetime | None:
        starts = [min(series) for series in self._usdc.values() if series]
        return min(starts) if starts else None
