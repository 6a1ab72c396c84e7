"""Polling venue rates into a snapshot, and reading them back for the dashboard."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.carry import DEFAULT_FEES, REFERENCE_CAPITAL_USD, CarryOutlook, carry_outlook, mean_markets
from dnbot.domain.presets import PRESETS, Preset
from dnbot.domain.rates import LendingMarket, RatesSnapshot
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


# --- the history the strategy reads (stored hourly by the poller, read once per tick) -----------------------

# each market's rates are averaged over the lookback's hourly snapshots (every preset looks back 60 days)
MARKET_MEAN_HOURS = max(p.lookback_hours for p in PRESETS.values())
# the longest preset lookback of day means, + the 23 hours its first day mean needs
STRATEGY_HISTORY_HOURS = MARKET_MEAN_HOURS + 23


@dataclass(frozen=True, slots=True)
class StrategyHistory:
    """What `decide_for_user` needs beyond the latest snapshot, read once per tick for every user."""

    funding_history_hourly: list[Decimal]  # one rate per stored hour, oldest first (gaps skipped)
    market_means: tuple[LendingMarket, ...]  # each market's mean rates over the lookback

    def outlooks(self) -> dict[int, CarryOutlook]:
        """One `CarryOutlook` per distinct preset window (keyed by `persistence_hours`): computed once per
        tick, so each user's decision does not recompute it."""
        return {p.persistence_hours: carry_outlook(self.funding_history_hourly, lookback_hours=p.lookback_hours,
                                                   recent_hours=p.persistence_hours)
                for p in PRESETS.values()}


def strategy_history(store: RatesStore, now: datetime, hours: int = STRATEGY_HISTORY_HOURS) -> StrategyHistory:
    """From the poller's hourly snapshots: each hour's Hyperliquid rate (read at the hour's last poll) and
    each market's mean rates over the lookback."""
    return history_of(store.hourly_snapshots(now - timedelta(hours=hours)))


def history_of(snapshots: Sequence[RatesSnapshot]) -> StrategyHistory:
    """`strategy_history` of hourly snapshots already read (oldest first): the tick reads them once for this and
    for the LST peg reference."""
    return StrategyHistory([s.funding.funding_hourly for s in snapshots],
                           mean_markets(s.markets for s in snapshots[-MARKET_MEAN_HOURS:]))


def outlook_to_json(outlook: CarryOutlook) -> dict[str, str | int]:
    return {"lookback_hours": outlook.lookback_hours, "horizon_hours": outlook.horizon_hours,
            "carry_off_episodes": outlook.carry_off_episodes,
            "negative_spell_hours": str(outlook.negative_spell_hours),
            "expected_funding_hourly": str(outlook.expected_funding_hourly),
            "recent_funding_hourly": str(outlook.recent_funding_hourly)}


def outlook_from_json(data: dict[str, str | int]) -> CarryOutlook:
    return CarryOutlook(lookback_hours=int(data["lookback_hours"]), horizon_hours=int(data["horizon_hours"]),
                        carry_off_episodes=int(data["carry_off_episodes"]),
                        negative_spell_hours=Decimal(str(data["negative_spell_hours"])),
                        expected_funding_hourly=Decimal(str(data["expected_funding_hourly"])),
                        recent_funding_hourly=Decimal(str(data["recent_funding_hourly"])))


def markets_to_json(markets: tuple[LendingMarket, ...]) -> list[dict[str, str]]:
    return [{"asset": m.asset.value, "protocol": m.protocol.label, "supply_apy": str(m.supply_apy),
             "usdc_borrow_apy": str(m.usdc_borrow_apy), "staking_apy": str(m.staking_apy)} for m in markets]


def markets_from_json(data: list[dict[str, str]]) -> tuple[LendingMarket, ...]:
    return tuple(LendingMarket(Asset.parse(m["asset"]), Protocol.parse(m["protocol"]), Decimal(m["supply_apy"]),
                               Decimal(m["usdc_borrow_apy"]), Decimal(m["staking_apy"])) for m in data)
