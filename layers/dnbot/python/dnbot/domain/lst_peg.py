"""An LST's peg before an open: its market LST/SOL rate at Asgard against its fair (redemption) rate.

The breaker on an open position (domain.risk, `max_depeg`) takes the rate the long paid at its open as the fair
rate. A new open has no such rate. Its reference (`PegReference`) is the stake pool's redemption rate read on chain
(domain.stake_pool: jitoSOL, jupSOL) when the caller could read it; otherwise (INF, which is no stake pool, or the
chain unreadable) the best rate Asgard quoted over the lookback the caller reads (`PegQuote`s: the poller keeps
each LST's best rate of every hour), each grown by the staking APY since: a redemption rate only grows, at the
staking yield, so a market rate under that is the market discounting the LST.
The depeg itself is the breaker's reading (`risk.lst_depeg`), from one venue's prices (Asgard's LST and SOL), so a
SOL move cancels out. Against the market reference, a discount older than the lookback, or older than the first
prices polled, is not seen: the check then lets the open through, like a missing reading.

Two callers, one reference: the open's preflight refuses a depegged LST (services.preflight_checks), and the
strategy tick leaves its markets out of what a user may open (services.tick, `depegged_lsts`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from dnbot.domain.assets import Asset
from dnbot.domain.rates import HOURS_PER_YEAR, LendingMarket, RatesSnapshot
from dnbot.domain.risk import lst_depeg

ONE = Decimal(1)
ZERO = Decimal(0)
SECONDS_PER_HOUR = Decimal(3600)


class PegReference(StrEnum):
    """Where an LST's fair rate came from."""

    STAKE_POOL = "stake_pool"  # its stake pool's redemption rate, read on chain
    MARKET = "market"  # the best rate Asgard quoted over the lookback, grown by the staking APY

    @property
    def described(self) -> str:
        if self is PegReference.STAKE_POOL:
            return "by its stake pool's redemption rate on chain"
        return "by the best rate Asgard quoted over the last week, grown by the staking APY"


@dataclass(frozen=True, slots=True)
class PegQuote:
    """One LST's market rate at Asgard at one moment: what its fair rate is taken from."""

    asset: Asset
    at: datetime
    sol_rate: Decimal  # SOL per LST: its price at Asgard / SOL's price there
    staking_apy: Decimal  # its staking yield then, which grows the rate from `at` on


@dataclass(frozen=True, slots=True)
class PegReading:
    asset: Asset
    market_rate: Decimal  # SOL per LST at Asgard now: its LST price / its SOL price
    fair_rate: Decimal  # the reference's rate (or the market rate if higher)
    depeg: Decimal  # 1 - market / fair, never negative (risk.lst_depeg)
    reference: PegReference = PegReference.MARKET


def _priced(snapshot: RatesSnapshot, asset: Asset) -> LendingMarket | None:
    """The asset's market in this snapshot that carries Asgard's price (every protocol quotes the same one)."""
    if snapshot.sol_price_usd <= ZERO:
        return None
    return next((m for m in snapshot.markets if m.asset is asset and m.price_usd and m.price_usd > ZERO), None)


def peg_quotes(snapshot: RatesSnapshot) -> tuple[PegQuote, ...]:
    """Each LST's rate in this snapshot (one per asset; none where Asgard's prices are missing)."""
    quotes: list[PegQuote] = []
    for asset in dict.fromkeys(m.asset for m in snapshot.markets if m.asset.is_lst):
        market = _priced(snapshot, asset)
        if market is not None and market.price_usd is not None:
            quotes.append(PegQuote(asset, snapshot.at, market.price_usd / snapshot.sol_price_usd,
                                   market.staking_apy))
    return tuple(quotes)


def fair_lst_sol_rate(asset: Asset, quotes: Iterable[PegQuote], now: datetime) -> Decimal | None:
    """The highest LST/SOL rate among these quotes of `asset`, each grown by its staking APY up to `now`."""
    best: Decimal | None = None
    for quote in quotes:
        if quote.asset is not asset or quote.sol_rate <= ZERO:
            continue
        hours = max(ZERO, Decimal((now - quote.at).total_seconds()) / SECONDS_PER_HOUR)
        grown = quote.sol_rate * (ONE + quote.staking_apy * hours / HOURS_PER_YEAR)
        best = grown if best is None else max(best, grown)
    return best


def fair_lst_sol_rates(quotes: Iterable[PegQuote], now: datetime) -> dict[Asset, Decimal]:
    """`fair_lst_sol_rate` of every LST these quotes cover."""
    listed = list(quotes)
    fair = {asset: fair_lst_sol_rate(asset, listed, now) for asset in dict.fromkeys(q.asset for q in listed)}
    return {asset: rate for asset, rate in fair.items() if rate is not None}


def lst_peg(asset: Asset, latest: RatesSnapshot, fair_rate: Decimal | None,
            reference: PegReference = PegReference.MARKET) -> PegReading | None:
    """The LST's depeg in `latest` against `fair_rate` (its fair rate at about `latest.at`, from `reference`: the
    stake pool's redemption rate, or `fair_lst_sol_rate`; `latest`'s own rate if higher, or if there is none);
    None for SOL, or when Asgard's prices are missing (nothing to compare)."""
    if not asset.is_lst:
        return None
    market = _priced(latest, asset)
    if market is None or market.price_usd is None:
        return None
    market_rate = market.price_usd / latest.sol_price_usd
    fair = market_rate if fair_rate is None else max(fair_rate, market_rate)
    return PegReading(asset, market_rate, fair, lst_depeg(market.price_usd, latest.sol_price_usd, fair), reference)


def depeg_refusal(reading: PegReading | None, max_depeg: Decimal) -> str | None:
    """Why an open of this LST must not start (over the preset's `max_depeg`, which would close it), or None."""
    if reading is None or reading.depeg <= max_depeg:
        return None
    return (f"{reading.asset.value} trades {reading.depeg:.2%} below its fair SOL value (Asgard "
            f"{reading.market_rate:.6f} SOL against {reading.fair_rate:.6f}) {reading.reference.described}, over the "
            f"{max_depeg:.2%} depeg limit of your preset: no new position in it until it recovers")


def depegged_lsts(snapshot: RatesSnapshot, fair_rates: Mapping[Asset, Decimal], max_depeg: Decimal,
                  references: Mapping[Asset, PegReference] | None = None) -> dict[Asset, str]:
    """Every LST in `snapshot` depegged past `max_depeg` against `fair_rates` (each from its `references` entry,
    the market's where none), with the preflight's refusal."""
    refused: dict[Asset, str] = {}
    for asset in dict.fromkeys(m.asset for m in snapshot.markets if m.asset.is_lst):
        reference = (references or {}).get(asset, PegReference.MARKET)
        reason = depeg_refusal(lst_peg(asset, snapshot, fair_rates.get(asset), reference), max_depeg)
        if reason is not None:
            refused[asset] = reason
    return refused
