"""The grid scan: the `always` backtest of every asset x protocol x leverage at once, vectorized.

Why floats here, and only here: the scan replays up to 48 hold-to-the-end positions over a year of hours.
Held positions change state only by compounding (the LST/SOL rate, the long's units, the debt) and by summing
funding, so each is a cumulative product or sum, computed by numpy in float64 for a whole year in
microseconds, where the Decimal engine steps hour by hour. float64 carries ~16 significant digits; over 8760
compounding steps the relative error stays under 1e-12, far below a cent on any realistic capital. The final
money figures are converted to Decimal cents once, at the end, and a unit test checks every pair of the
vendored data against the Decimal engine (`engine.py`, the reference) to the cent.

The rules are the engine's `always` policy exactly: open at the pair's first recorded hour (taker fee, Asgard
open fee, swap slippage, tip), accrue staking, supply, borrow and the funding paid at the end of each hour,
liquidate on the hour's low (long) or high (short), and otherwise close at the last close.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from dnbot.backtest.history import MarketHistory
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.carry import DEFAULT_FEES, FeeSchedule
from dnbot.domain.pnl import CENT, PnlBreakdown
from dnbot.domain.rates import HOURS_PER_YEAR

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ScanRow:
    asset: Asset
    protocol: Protocol
    leverage: Decimal
    start: datetime
    hours: int
    hours_in_market: int
    liquidated: str | None  # "long" | "short" | None
    final_equity_usd: Decimal  # cents
    pnl: PnlBreakdown  # cents, summing to final equity - capital

    def net_apy(self, capital_usd: Decimal) -> Decimal:
        return (self.final_equity_usd - capital_usd) / capital_usd * HOURS_PER_YEAR / self.hours


@dataclass(frozen=True, slots=True)
class _PairArrays:
    start: datetime
    p0: Floats
    high: Floats
    low: Floats
    p1: Floats
    stake: Floats  # cumulative growth at the START of each hour, length n + 1 (index 0 = 1.0)
    supply: Floats
    borrow: Floats
    funding: Floats  # the rate paid at the end of each hour


def _pair_arrays(history: MarketHistory, asset: Asset, protocol: Protocol, end: datetime | None
                 ) -> _PairArrays | None:
    """The pair's per-hour arrays, built once per history (they do not depend on leverage or capital)."""
    key = ("scan", asset, protocol, end)
    if key not in history.derived:
        history.derived[key] = _build_pair_arrays(history, asset, protocol, end)
    cached = history.derived[key]
    assert cached is None or isinstance(cached, _PairArrays)
    return cached


def _build_pair_arrays(history: MarketHistory, asset: Asset, protocol: Protocol, end: datetime | None
                       ) -> _PairArrays | None:
    first = history.first_hour_of(asset, protocol)
    if first is None:
        return None
    last = history.last_candle_hour()
    if last is None:
        return None
    rows = history.candles_between(first, last if end is None else end)
    if not rows:
        return None
    rates = history.pair_hours(asset, protocol)
    paid = history.funding_paid()
    n = len(rows)
    p0, high, low, p1 = (np.empty(n) for _ in range(4))
    gs, gk, gb, funding = (np.empty(n) for _ in range(4))
    for i, (hour, candle) in enumerate(rows):
        p0[i], high[i], low[i], p1[i] = float(candle.open), float(candle.high), float(candle.low), \
            float(candle.close)
        hour_rates = rates[hour]
        gs[i], gk[i], gb[i] = (float(hour_rates.stake_growth), float(hour_rates.supply_growth),
                               float(hour_rates.borrow_growth))
        funding[i] = float(paid[hour][0])

    def cumulative(growth: Floats) -> Floats:
        return np.concatenate(([1.0], np.cumprod(growth)))

    return _PairArrays(rows[0][0], p0, high, low, p1, cumulative(gs), cumulative(gk), cumulative(gb), funding)


def _cents(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(CENT)


def _scan_one(a: _PairArrays, leverage: float, capital: float, fees: FeeSchedule, ltv: float, mmr: float,
              penalty: float) -> tuple[int, str | None, float, dict[str, float]]:
    taker = float(fees.hyperliquid_taker_rate)
    open_rate = taker + float(fees.asgard_open_rate) + float(fees.swap_slippage_rate)
    close_rate = taker + float(fees.asgard_close_rate) + float(fees.swap_slippage_rate)
    tip = float(fees.jito_tip_usd)
    n = len(a.p0)
    price = float(a.p0[0])
    notional = capital * leverage / 2
    fee_open = notional * open_rate + tip
    units0 = size = notional / price
    debt0 = notional - notional / leverage
    margin0 = capital - notional / leverage - fee_open
    entry = price

    earned = size * a.p1 * a.funding
    margin = margin0 + np.concatenate(([0.0], np.cumsum(earned)))  # at the start of each hour
    exposure = units0 * a.supply * a.stake  # long units x LST/SOL rate, at the start of each hour
    debt = debt0 * a.borrow
    long_liq = debt[:n] / (exposure[:n] * ltv)
    short_liq = (margin[:n] + size * entry) / (size * (1 + mmr))
    long_hit = a.low <= long_liq
    short_hit = a.high >= short_liq
    both = long_hit & short_hit
    long_first = (a.p0 - long_liq) <= (short_liq - a.p0)
    long_hit = np.where(both, long_first, long_hit)
    short_hit = np.where(both, ~long_first, short_hit)
    hits = np.flatnonzero(long_hit | short_hit)
    k = int(hits[0]) if hits.size else n  # accrual hours before the position ends

    # staking: units_i x (R_{i+1} - R_i) x p0_i; lending: (units_{i+1} - units_i) x R_{i+1} x p0_i
    units = units0 * a.supply
    staking = float(np.sum(units[:k] * (a.stake[1:k + 1] - a.stake[:k]) * a.p0[:k]))
    lending = float(np.sum((units[1:k + 1] - units[:k]) * a.stake[1:k + 1] * a.p0[:k]))
    borrow = -(float(debt[k]) - debt0)
    funding = float(np.sum(earned[:k]))
    liquidated: str | None = None
    if k < n:
        at = float(long_liq[k] if long_hit[k] else short_liq[k])
        held = float(exposure[k]) * at - float(debt[k]) + float(margin[k]) + size * (entry - at)
        if long_hit[k]:
            liquidated = "long"
            lost = min(penalty * float(debt[k]), float(exposure[k]) * at - float(debt[k])) + taker * size * at
        else:
            liquidated = "short"
            lost = float(margin[k]) + size * (entry - at)
            lost += (float(fees.asgard_close_rate) + float(fees.swap_slippage_rate)) * float(exposure[k]) * at + tip
        final = held - lost
        paid_fees = fee_open + lost
        in_market = k + 1
    else:
        close = float(a.p1[-1])
        held = float(exposure[n]) * close - float(debt[n]) + float(margin[n]) + size * (entry - close)
        fee_close = size * close * close_rate + tip
        final = held - fee_close
        paid_fees = fee_open + fee_close
        in_market = n
    parts = {"funding": funding, "staking": staking, "lending": lending, "borrow": borrow, "fees": -paid_fees}
    parts["price"] = (final - capital) - sum(parts.values())
    return in_market, liquidated, final, parts


def scan_always(history: MarketHistory, *, capital_usd: Decimal = Decimal(10_000),
                leverages: Iterable[Decimal] = (Decimal(2), Decimal(3), Decimal(4)),
                assets: Iterable[Asset] = tuple(Asset), protocols: Iterable[Protocol] = tuple(Protocol),
                end: datetime | None = None, fees: FeeSchedule = DEFAULT_FEES,
                liquidation_ltv: Decimal = Decimal("0.85"), maintenance_margin_rate: Decimal = Decimal("0.025"),
                liquidation_penalty: Decimal = Decimal("0.05")) -> list[ScanRow]:
    """Every requested pair that has recorded data, at every leverage: the `always` policy's outcome."""
    rows: list[ScanRow] = []
    capital = float(capital_usd)
    levels = list(leverages)
    for asset in assets:
        for protocol in protocols:
            arrays = _pair_arrays(history, asset, protocol, end)
            if arrays is None:
                continue
            for leverage in levels:
                in_market, liquidated, final, parts = _scan_one(
                    arrays, float(leverage), capital, fees, float(liquidation_ltv),
                    float(maintenance_margin_rate), float(liquidation_penalty))
                final_cents = _cents(final)
                exact = PnlBreakdown(**{name: Decimal(repr(float(value))) for name, value in parts.items()})
                rows.append(ScanRow(asset, protocol, leverage, arrays.start, len(arrays.p0), in_market, liquidated,
                                    final_cents, exact.to_cents(target=final_cents - capital_usd.quantize(CENT))))
    return rows
