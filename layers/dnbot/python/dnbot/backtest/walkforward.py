"""Walk-forward evaluation: calendar months traded one after the other, each from flat, with only the past.

What the strategy estimates (`CarryOutlook`: the holding horizon from the carry-off episodes, the negative
spell length, the funding it counts on) is fitted at every hour on the trailing `lookback_hours` of funding
recorded BEFORE that hour: a rolling window of the past, refitted hourly, exactly as the tick does. Each
month is then traded from flat and closed at its end (so each window pays its own round trips), and compared
with, on the same hours and capital:

- the always-on hold of each pair that Asgard allows at that leverage (`--policy always`: open at the
  window's first hour with data, hold, close at its end; no rebalancing, so a hold can be liquidated);
- the hindsight-optimal schedule: a dynamic program over the window's hours that knows every future rate and
  chooses, hour by hour, to be flat or in one pair (at the bot's leverage and Asgard's leverage caps), paying
  the open and close fees of every change, on a SOL size fixed at the window's first price (as a hold's). It
  ignores price PnL, rebalancing and liquidation: an upper bound on the carry to report, never a schedule to
  trade.

capture = bot / hindsight (undefined when the hindsight optimum is not positive: then nothing was there to
capture). The last `held_out_months` windows are kept out of any tuning and reported apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dnbot.backtest.engine import BacktestConfig, Backtester, outlook_at
from dnbot.backtest.history import MarketHistory
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.carry import DEFAULT_FEES, CarryOutlook, FeeSchedule, notional_for_capital
from dnbot.domain.pnl import CENT
from dnbot.domain.presets import Preset
from dnbot.domain.rates import HOURS_PER_YEAR

HOUR = timedelta(hours=1)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class WindowResult:
    start: datetime
    end: datetime
    held_out: bool
    bot_usd: Decimal
    trades: int
    rebalances: int
    hours_in_market: int
    holds_usd: dict[str, Decimal]  # "asset/protocol" -> the always-on hold's PnL
    hindsight_usd: Decimal
    fit: CarryOutlook  # what the strategy estimated from the past at the window's first hour

    @property
    def capture(self) -> Decimal | None:
        return capture(self.bot_usd, self.hindsight_usd)


@dataclass(frozen=True, slots=True)
class Summary:
    bot_usd: Decimal
    holds_usd: dict[str, Decimal]
    hindsight_usd: Decimal
    windows: int

    @property
    def capture(self) -> Decimal | None:
        return capture(self.bot_usd, self.hindsight_usd)

    @property
    def best_hold(self) -> tuple[str, Decimal] | None:
        return max(self.holds_usd.items(), key=lambda item: item[1]) if self.holds_usd else None


@dataclass(frozen=True, slots=True)
class WalkForward:
    preset: Preset
    leverage: Decimal
    capital_usd: Decimal
    windows: tuple[WindowResult, ...]
    rebalance: str = "bridge"

    def summary(self, held_out: bool | None) -> Summary:
        chosen = [w for w in self.windows if held_out is None or w.held_out is held_out]
        holds: dict[str, Decimal] = {}
        for window in chosen:
            for pair, pnl in window.holds_usd.items():
                holds[pair] = holds.get(pair, ZERO) + pnl
        return Summary(sum((w.bot_usd for w in chosen), ZERO), holds,
                       sum((w.hindsight_usd for w in chosen), ZERO), len(chosen))

    def to_json(self) -> dict[str, object]:
        return {
            "preset": self.preset.name.value,
            "leverage": str(self.leverage),
            "capital": _money(self.capital_usd),
            "rebalance": self.rebalance,
            "windows": [_window_json(w) for w in self.windows],
            "training": _summary_json(self.summary(held_out=False)),
            "held_out": _summary_json(self.summary(held_out=True)),
            "total": _summary_json(self.summary(held_out=None)),
        }


def capture(bot_usd: Decimal, hindsight_usd: Decimal) -> Decimal | None:
    return None if hindsight_usd <= ZERO else bot_usd / hindsight_usd


def _money(value: Decimal) -> str:
    return format(value.quantize(CENT), "f")


def _ratio(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(Decimal("0.0001")), "f")


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _window_json(window: WindowResult) -> dict[str, object]:
    return {
        "start": _iso(window.start), "end": _iso(window.end), "held_out": window.held_out,
        "bot": _money(window.bot_usd), "trades": window.trades, "rebalances": window.rebalances,
        "hours_in_market": window.hours_in_market,
        "holds": {pair: _money(pnl) for pair, pnl in window.holds_usd.items()},
        "hindsight": _money(window.hindsight_usd), "capture": _ratio(window.capture),
        "fit": {"horizon_hours": window.fit.horizon_hours, "carry_off_episodes": window.fit.carry_off_episodes,
                "negative_spell_hours": format(window.fit.negative_spell_hours.quantize(Decimal("0.1")), "f"),
                "expected_funding_hourly": format(window.fit.expected_funding_hourly.quantize(Decimal("1e-10")),
                                                  "f")},
    }


def _summary_json(summary: Summary) -> dict[str, object]:
    best = summary.best_hold
    return {
        "windows": summary.windows, "bot": _money(summary.bot_usd),
        "holds": {pair: _money(pnl) for pair, pnl in summary.holds_usd.items()},
        "best_hold": None if best is None else {"pair": best[0], "pnl": _money(best[1])},
        "hindsight": _money(summary.hindsight_usd), "capture": _ratio(summary.capture),
    }


def month_windows(first: datetime, last: datetime) -> list[tuple[datetime, datetime]]:
    """Calendar months (UTC) covering first .. last, clipped to them; each (start, end) inclusive."""
    windows = []
    start = first
    while start <= last:
        month = datetime(start.year, start.month, 1, tzinfo=UTC)
        following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
        end = min(following - HOUR, last)
        windows.append((start, end))
        start = following
    return windows


def _pairs(history: MarketHistory, leverage: Decimal) -> list[tuple[Asset, Protocol]]:
    """Pairs with recorded data whose Asgard leverage cap (when recorded) allows `leverage`."""
    return [(a, p) for a, p in history.pairs() if history.first_hour_of(a, p) is not None
            and ((cap := history.max_leverage.get((a, p))) is None or leverage <= cap)]


def hindsight_optimum_usd(history: MarketHistory, start: datetime, end: datetime, *, leverage: Decimal,
                          capital_usd: Decimal, fees: FeeSchedule = DEFAULT_FEES) -> Decimal:
    """The best flat/in-one-pair schedule over start..end with perfect foresight, net of open and close fees,
    flat at both ends. A pair may be ENTERED only at hours with its own recorded data and when Asgard's
    leverage cap allows `leverage`; once in, its rates are carried forward like the backtester's."""
    rows = history.candles_between(start, end)
    if not rows:
        return ZERO
    notional0 = notional_for_capital(capital_usd, leverage)
    debt = notional0 - notional0 / leverage
    size = notional0 / rows[0][1].open  # SOL on each leg, fixed at the window's first price, like a hold
    paid = history.funding_paid()
    pairs = _pairs(history, leverage)
    series = [history.pair_hours(a, p) for a, p in pairs]
    flat = ZERO
    held: list[Decimal | None] = [None] * len(pairs)  # best value while in each pair (None: unreachable)
    for hour, candle in rows:
        funding = paid[hour][0]
        notional = size * candle.open
        open_fee, close_fee = fees.open_usd(notional), fees.close_usd(notional)
        best_out = flat
        for value in held:
            if value is not None and value - close_fee > best_out:
                best_out = value - close_fee
        updated: list[Decimal | None] = []
        for index, (asset, protocol) in enumerate(pairs):
            rates = series[index].get(hour)
            if rates is None:
                updated.append(None)
                continue
            value = held[index]
            if history.market(asset, protocol, hour, with_limits=False) is not None:
                entry = best_out - open_fee  # from flat, or from another pair (its close is in best_out)
                if value is None or entry > value:
                    value = entry
            if value is None:
                updated.append(None)
                continue
            market = rates.market
            carry = (notional * (market.staking_apy + market.supply_apy) - debt * market.usdc_borrow_apy
                     ) / HOURS_PER_YEAR + size * candle.close * funding
            updated.append(value + carry)
        flat, held = best_out, updated
    last_close = fees.close_usd(size * rows[-1][1].close)
    return max([flat] + [v - last_close for v in held if v is not None])


def walk_forward(history: MarketHistory, preset: Preset, *, leverage: Decimal | None = None,
                 capital_usd: Decimal = Decimal(10_000), held_out_months: int = 2,
                 fees: FeeSchedule = DEFAULT_FEES, rebalance: str = "bridge") -> WalkForward:
    first = history.first_hour_with_markets()
    last = history.last_candle_hour()
    if first is None or last is None:
        raise ValueError("no recorded hour with both markets and a SOL price")
    chosen = preset.leverage if leverage is None else leverage
    backtester = Backtester(history)
    windows = month_windows(first, last)
    results = []
    for index, (start, end) in enumerate(windows):
        bot = backtester.run(BacktestConfig(capital_usd=capital_usd, preset=preset, leverage=chosen, start=start,
                                            end=end, fees=fees, record_series=False, rebalance=rebalance))
        holds = {}
        for asset, protocol in _pairs(history, chosen):
            if not history.candles_between(max(start, history.first_hour_of(asset, protocol) or start), end):
                continue
            hold = backtester.run(BacktestConfig(capital_usd=capital_usd, policy="always", preset=preset,
                                                 asset=asset, protocol=protocol, leverage=chosen, start=start,
                                                 end=end, fees=fees, record_series=False))
            if hold.trades:
                holds[f"{asset.value}/{protocol.label}"] = hold.total_pnl_usd
        results.append(WindowResult(
            start=start, end=end, held_out=index >= len(windows) - held_out_months,
            bot_usd=bot.total_pnl_usd, trades=len(bot.trades), rebalances=bot.rebalances,
            hours_in_market=bot.hours_in_market, holds_usd=holds,
            hindsight_usd=hindsight_optimum_usd(history, start, end, leverage=chosen, capital_usd=capital_usd,
                                                fees=fees),
            fit=outlook_at(history, start, preset.lookback_hours, preset.persistence_hours),
        ))
    return WalkForward(preset, chosen, capital_usd, tuple(results), rebalance)
