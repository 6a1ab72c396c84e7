"""An LST's peg before an open: its market LST/SOL rate at Asgard against its fair (redemption) rate.

The breaker on an open position (domain.risk, `max_depeg`) takes the rate the long paid at its open as the fair
rate. A new open has no such rate, so it takes the best rate Asgard quoted over the lookback the caller reads,
each grown by the staking APY since: a redemption rate only grows, at the staking yield, so a market rate under
that is the market discounting the LST. The depeg itself is the breaker's reading (`risk.lst_depeg`), from one
venue's prices (Asgard's LST and SOL), so a SOL move cancels out. A discount older than the lookback, or older
than the first prices polled, is not seen: the check then lets the open through, like a missing reading.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from dnbot.domain.assets import Asset
from dnbot.domain.rates import HOURS_PER_YEAR, LendingMarket, RatesSnapshot
from dnbot.domain.risk import lst_depeg

ONE = Decimal(1)
ZERO = Decimal(0)
SECONDS_PER_HOUR = Decimal(3600)


@dataclass(frozen=True, slots=True)
class PegReading:
    asset: Asset
    market_rate: Decimal  # SOL per LST at Asgard now: its LST price / its SOL price
    fair_rate: Decimal  # the best rate quoted over the lookback, grown by the staking APY since
    depeg: Decimal  # 1 - market / fair, never negative (risk.lst_depeg)


def _priced(snapshot: RatesSnapshot, asset: Asset) -> LendingMarket | None:
    """The asset's market in this snapshot that carries Asgard's price (every protocol quotes the same one)."""
    if snapshot.sol_price_usd <= ZERO:
        return None
    return next((m for m in snapshot.markets if m.asset is asset and m.price_usd and m.price_usd > ZERO), None)


def fair_lst_sol_rate(asset: Asset, snapshots: Iterable[RatesSnapshot], now: datetime) -> Decimal | None:
    """The highest LST/SOL rate these snapshots quoted, each grown by its staking APY up to `now`."""
    best: Decimal | None = None
    for snapshot in snapshots:
        market = _priced(snapshot, asset)
        if market is None or market.price_usd is None:
            continue
        hours = max(ZERO, Decimal((now - snapshot.at).total_seconds()) / SECONDS_PER_HOUR)
        grown = market.price_usd / snapshot.sol_price_usd * (ONE + market.staking_apy * hours / HOURS_PER_YEAR)
        best = grown if best is None else max(best, grown)
    return best


def lst_peg(asset: Asset, latest: RatesSnapshot, history: Iterable[RatesSnapshot]) -> PegReading | None:
    """The LST's depeg in `latest` against its fair rate from `history` (and `latest`); None for SOL, or when
    Asgard's prices are missing (nothing to compare)."""
    if not asset.is_lst:
        return None
    market = _priced(latest, asset)
    if market is None or market.price_usd is None:
        return None
    fair = fair_lst_sol_rate(asset, [*history, latest], latest.at)
    if fair is None or fair <= ZERO:
        return None
    return PegReading(asset, market.price_usd / latest.sol_price_usd, fair,
                      lst_depeg(market.price_usd, latest.sol_price_usd, fair))


def depeg_refusal(reading: PegReading | None, max_depeg: Decimal) -> str | None:
    """Why an open of this LST must not start (over the preset's `max_depeg`, which would close it), or None."""
    if reading is None or reading.depeg <= max_depeg:
        return None
    return (f"{reading.asset.value} trades {reading.depeg:.2%} below its fair SOL value (Asgard "
            f"{reading.market_rate:.6f} SOL against {reading.fair_rate:.6f}), over the {max_depeg:.2%} depeg limit "
            "of your preset: no new position in it until it recovers")
