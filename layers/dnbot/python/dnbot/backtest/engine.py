"""Hour-by-hour replay of recorded data through the SAME `decide_for_user` the strategy tick runs.

Each hour h (a Binance SOL candle: open, high, low, close):
1. Decide at the hour's open price with the snapshot of hour h (Asgard's hourly rates of bucket h, the
   funding Hyperliquid paid at h) and the position's risk readings at that price: `dnbot` asks
   `decide_for_user`; `always` opens the given pair once, at the first hour it has data, and holds.
2. Liquidation on the hour's extremes: the long (Asgard) if the LOW takes its health factor to 1, the short
   (Hyperliquid) if the HIGH reaches its liquidation price. A liquidated leg loses its penalty (the long: a
   liquidation bonus on its debt; the short: its remaining maintenance margin) and the other leg is closed at
   the same price, paying its close fee. That hour accrues no interest or funding.
3. Otherwise accrue over the hour, in this order: staking (the LST/SOL rate grows; the LST's USD price is
   SOL x that rate, since no LST market price is recorded), supply interest (the long's units grow), USDC
   borrow interest (the debt grows), the price move from open to close on both legs, and the funding
   Hyperliquid pays at h + 1 on size x the close price (POSITIVE rate: the short EARNS).

Gaps, honestly: an hour without a SOL candle is SKIPPED (no accrual, nothing decided; counted). For an open
position, each missing rate (the USDC borrow, the SOL supply, the LST staking, the funding) is CARRIED FORWARD
from its last recorded hour, the others still coming from their own series (interest and funding do not stop
because a recorder missed an hour; counted as `carried_hours`). No new position opens on
an hour without its own recorded data: the strategy only sees the markets recorded at that hour.

Money is Decimal throughout; the per-source PnL sums to the equity change exactly before rounding to cents.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from dnbot.backtest.history import HourRates, MarketHistory
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.carry import DEFAULT_FEES, CarryOutlook, FeeSchedule, carry_outlook, notional_for_capital
from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.pnl import CENT, PnlBreakdown
from dnbot.domain.positions import Position, PositionStatus
from dnbot.domain.presets import PRESETS, Preset, PresetName, UserSettings
from dnbot.domain.rates import HOURS_PER_YEAR, LendingMarket
from dnbot.domain.rebalance import TO_LONG, CannotRebalance, LegsNow, size_bridge_rebalance, size_rebalance
from dnbot.domain.risk import RiskReadings
from dnbot.domain.strategy import Close, LivePosition, Open, Rebalance, decide_for_user

HOUR = timedelta(hours=1)
ZERO = Decimal(0)
ONE = Decimal(1)
POLICIES = ("dnbot", "always")
# How a Rebalance decision is carried out. "bridge" is what the live rebalance workflow does by default
# (services/rebalance.py with services/bridge_rebalance.py): USDC moved between the venues over CCTP
# (`domain.rebalance.size_bridge_rebalance`: Hyperliquid margin repays the long's debt after a fall, a smaller
# partial close's equity goes to the short's margin after a rally), and where no transfer restores the distance,
# the shrink. "shrink" is the workflow with bridging off (Settings.bridge_rebalance): both legs shrink by the SOL
# that `domain.rebalance.size_rebalance` says restores the open's distance (an Asgard deleverage or partial close,
# a reduce-only buy-back); a partial close's equity goes to the wallet and stays idle.
REBALANCE_MODELS = ("shrink", "bridge")


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    capital_usd: Decimal = Decimal(10_000)
    policy: str = "dnbot"
    preset: Preset = field(default_factory=lambda: PRESETS[PresetName.BALANCED])
    asset: Asset | None = None  # `always`: required; `dnbot`: restricts the markets it may choose
    protocol: Protocol | None = None
    leverage: Decimal | None = None  # default: the preset's
    start: datetime | None = None
    end: datetime | None = None
    fees: FeeSchedule = DEFAULT_FEES
    # Planning assumptions, not recorded data: Asgard's 4x maximum implies a liquidation LTV above 0.75;
    # Hyperliquid's SOL max leverage 20x gives a maintenance margin of 1/(2 x 20).
    liquidation_ltv: Decimal = Decimal("0.85")
    maintenance_margin_rate: Decimal = Decimal("0.025")
    liquidation_penalty: Decimal = Decimal("0.05")
    record_series: bool = True
    rebalance: str = "bridge"  # one of REBALANCE_MODELS

    def settings(self) -> UserSettings:
        return UserSettings.create(self.preset, leverage=self.leverage)


@dataclass(frozen=True, slots=True)
class Trade:
    asset: Asset
    protocol: Protocol
    leverage: Decimal
    opened_at: datetime
    closed_at: datetime | None
    notional_usd: Decimal
    open_reason: str
    close_reason: str
    pnl_usd: Decimal


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    at: datetime
    equity: Decimal
    pnl: PnlBreakdown  # cumulative, exact


@dataclass(frozen=True, slots=True)
class BacktestResult:
    config: BacktestConfig
    start: datetime | None
    end: datetime | None
    hours: int
    capital_usd: Decimal
    final_equity_usd: Decimal
    pnl: PnlBreakdown  # exact
    max_drawdown: Decimal
    trades: tuple[Trade, ...]
    hours_in_market: int
    rebalances: int
    liquidations: int
    skipped_hours: int  # no SOL candle
    carried_hours: int  # an open position's rate or funding carried forward
    series: tuple[SeriesPoint, ...]

    @property
    def total_pnl_usd(self) -> Decimal:
        return self.final_equity_usd - self.capital_usd

    @property
    def net_apy(self) -> Decimal:
        if self.hours == 0:
            return ZERO
        return self.total_pnl_usd / self.capital_usd * HOURS_PER_YEAR / self.hours

    def to_json(self) -> dict[str, object]:
        final = self.final_equity_usd.quantize(CENT)
        capital = self.capital_usd.quantize(CENT)
        parts = self.pnl.to_cents(target=final - capital)
        return {
            "start": None if self.start is None else _iso(self.start),
            "end": None if self.end is None else _iso(self.end),
            "hours": self.hours,
            "capital": format(capital, "f"),
            "final_equity": format(final, "f"),
            "total_pnl": format(final - capital, "f"),
            "net_apy": format(self.net_apy.quantize(Decimal("1e-6")), "f"),
            "max_drawdown": format(self.max_drawdown.quantize(Decimal("1e-6")), "f"),
            "trades": len(self.trades),
            "hours_in_market": self.hours_in_market,
            "rebalances": self.rebalances,
            "liquidations": self.liquidations,
            "rebalance": self.config.rebalance,
            "pnl": {name: format(value, "f") for name, value in parts.as_dict().items()},
        }


def outlook_at(history: MarketHistory, hour: datetime, lookback_hours: int, recent_hours: int) -> CarryOutlook:
    """The `CarryOutlook` from the funding recorded up to `hour` (cached: every run and preset shares it)."""
    key = ("outlook", hour, lookback_hours, recent_hours)
    cached = history.derived.get(key)
    if cached is None:
        cached = carry_outlook(history.funding_history(hour, lookback_hours + 24),
                               lookback_hours=lookback_hours, recent_hours=recent_hours)
        history.derived[key] = cached
    assert isinstance(cached, CarryOutlook)
    return cached


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class _Book:
    """One open position's accounts: the long's units, LST/SOL rate and USDC debt; the short's margin."""

    __slots__ = ("asset", "debt", "dist_open", "entry", "leverage", "margin", "mark", "market", "notional",
                 "open_reason", "opened_at", "paid_out", "peak", "pnl_at_open", "position", "protocol", "rate",
                 "rates", "size", "units")

    def __init__(self, position: Position, units: Decimal, debt: Decimal, margin: Decimal, size: Decimal,
                 entry: Decimal, rates: dict[datetime, HourRates], open_reason: str, pnl_at_open: Decimal) -> None:
        self.position = position
        self.asset = position.asset
        self.protocol = position.protocol
        self.leverage = position.leverage
        self.opened_at = position.created_at
        self.notional = position.target_notional_usd
        self.units, self.rate, self.debt, self.margin = units, ONE, debt, margin
        self.size, self.entry, self.rates = size, entry, rates
        self.mark = entry  # the price up to which the price PnL is accounted
        self.open_reason, self.pnl_at_open = open_reason, pnl_at_open
        self.paid_out = ZERO  # equity a rebalance's partial close paid to the wallet: still this position's
        self.peak = self.value(entry)
        self.dist_open = ZERO

    def shrunk(self) -> None:
        """After a rebalance shrank the legs: the position's notional per leg follows the short (at its entry
        price), as the live rebalance records it."""
        self.position = replace(self.position, target_notional_usd=self.size * self.entry)

    def equity(self, price: Decimal) -> Decimal:
        """What the drawdown breaker reads, as live (adapters/risk.py adds `rebalance_cash_usd`)."""
        return self.value(price) + self.paid_out

    def value(self, price: Decimal) -> Decimal:
        return self.units * self.rate * price - self.debt + self.margin + self.size * (self.entry - price)

    def long_liquidation_price(self, ltv: Decimal) -> Decimal:
        return self.debt / (self.units * self.rate * ltv)

    def short_liquidation_price(self, mmr: Decimal) -> Decimal:
        return (self.margin + self.size * self.entry) / (self.size * (ONE + mmr))

    def readings(self, price: Decimal, ltv: Decimal, mmr: Decimal) -> RiskReadings:
        account = self.margin + self.size * (self.entry - price)
        return RiskReadings(
            health_factor=self.units * self.rate * price * ltv / self.debt if self.debt > ZERO else None,
            margin_ratio=mmr * self.size * price / account if account > ZERO else Decimal(99),
            short_liquidation_price=self.short_liquidation_price(mmr),
            oracle_price_usd=price,
            long_venue_sol_price_usd=None,  # one recorded SOL price only: divergence cannot be replayed
            lst_depeg=None,  # no LST market price recorded: depeg cannot be replayed
            equity_usd=self.equity(price),
            peak_equity_usd=self.peak,
            liquidation_distance_at_open=self.dist_open,
            short_size_sol=self.size,  # as Hyperliquid reports it live (the exit prices its close on it)
        )

    def distance(self, price: Decimal, ltv: Decimal, mmr: Decimal) -> Decimal:
        drop = ONE - self.long_liquidation_price(ltv) / price
        rise = self.short_liquidation_price(mmr) / price - ONE
        return min(drop, rise)


class Backtester:
    """Runs configurations against one `MarketHistory` (which caches the per-hour markets, snapshots and
    per-pair rate series, so many runs share that work)."""

    def __init__(self, history: MarketHistory) -> None:
        self.history = history

    def run(self, config: BacktestConfig) -> BacktestResult:
        return _Run(self.history, config).execute()


class _Run:
    def __init__(self, history: MarketHistory, config: BacktestConfig) -> None:
        if config.policy not in POLICIES:
            raise ValueError(f"unknown policy {config.policy!r}; expected one of {', '.join(POLICIES)}")
        if config.rebalance not in REBALANCE_MODELS:
            raise ValueError(f"unknown rebalance model {config.rebalance!r}; expected one of "
                             f"{', '.join(REBALANCE_MODELS)}")
        if config.capital_usd <= ZERO:
            raise ValueError("capital must be positive")
        if config.policy == "always" and (config.asset is None or config.protocol is None):
            raise ValueError("--policy always needs --asset and --protocol")
        self.h = history
        self.c = config
        self.settings = config.settings()
        self.leverage = self.settings.leverage
        self.cash = config.capital_usd
        self.book: _Book | None = None
        # PnL by source, accumulated as plain Decimals (the hot loop); `pnl` assembles them
        self.funding = self.staking = self.lending = self.borrow = self.fees = self.price = ZERO
        self.trades: list[Trade] = []
        self.rebalances = 0
        self.liquidations = 0
        self.carried = 0
        self.opened_once = False
        self.series: list[SeriesPoint] = []
        self.funding_paid = history.funding_paid()

    @property
    def pnl(self) -> PnlBreakdown:
        return PnlBreakdown(self.funding, self.staking, self.lending, self.borrow, self.fees, self.price)

    def _pnl_total(self) -> Decimal:
        return self.funding + self.staking + self.lending + self.borrow + self.fees + self.price

    # --- the span ------------------------------------------------------------------------------------

    def _span(self) -> tuple[datetime | None, datetime | None]:
        candles = self.h.candles
        if not candles:
            return None, None
        first, last = min(candles), max(candles)
        if self.c.policy == "always":
            assert self.c.asset is not None and self.c.protocol is not None
            default_start = self.h.first_hour_of(self.c.asset, self.c.protocol)
        else:
            default_start = self.h.first_hour_with_markets()
        start = self.c.start or default_start or first
        end = self.c.end or last
        return max(start, first), min(end, last)

    # --- the loop ------------------------------------------------------------------------------------

    def execute(self) -> BacktestResult:
        start, end = self._span()
        candles = [] if start is None or end is None else self.h.candles_between(start, end)
        span_hours = 0 if start is None or end is None or end < start else int((end - start) / HOUR) + 1
        in_market = 0
        peak_equity = self.c.capital_usd
        max_drawdown = ZERO
        record = self.c.record_series
        for hour, candle in candles:
            if self.book is not None:
                self._mark(candle.open)  # last close -> this open: a gap the price PnL must include
            self._decide(hour, candle.open)
            book = self.book
            if book is not None:
                in_market += 1
                self._hour(book, hour, candle.open, candle.high, candle.low, candle.close)
                book = self.book  # it may have been liquidated
            if book is None:
                equity = self.cash
            else:
                held = book.value(candle.close)
                if held + book.paid_out > book.peak:
                    book.peak = held + book.paid_out
                equity = self.cash + held
            if equity > peak_equity:
                peak_equity = equity
            elif peak_equity > ZERO:
                drawdown = (peak_equity - equity) / peak_equity
                if drawdown > max_drawdown:
                    max_drawdown = drawdown
            if record:
                self.series.append(SeriesPoint(hour, equity, self.pnl))
        if self.book is not None and candles:
            last_hour, last_candle = candles[-1]
            self._close(last_hour, last_candle.close, "end of the backtest", last=True)
            if record and self.series:  # the last hour's point is the final equity, after the closing fees
                self.series[-1] = SeriesPoint(last_hour, self.cash, self.pnl)
        return BacktestResult(
            config=self.c, start=start, end=end, hours=len(candles), capital_usd=self.c.capital_usd,
            final_equity_usd=self.cash, pnl=self.pnl, max_drawdown=max_drawdown, trades=tuple(self.trades),
            hours_in_market=in_market, rebalances=self.rebalances, liquidations=self.liquidations,
            skipped_hours=span_hours - len(candles), carried_hours=self.carried, series=tuple(self.series),
        )

    # --- decisions -----------------------------------------------------------------------------------

    def _decide(self, hour: datetime, price: Decimal) -> None:
        if self.c.policy == "always":
            if self.book is None and not self.opened_once:
                assert self.c.asset is not None and self.c.protocol is not None
                market = self.h.market(self.c.asset, self.c.protocol, hour, with_limits=False)
                if market is not None:
                    notional = notional_for_capital(self.cash, self.leverage)
                    self._open(hour, price, market, self.leverage, notional, self.cash,
                               "policy always: the whole capital at the first hour with data")
            return
        snapshot = self.h.snapshot_at(hour)
        if snapshot is None:
            return
        if self.c.asset is not None or self.c.protocol is not None:
            markets = tuple(m for m in snapshot.markets
                            if (self.c.asset is None or m.asset is self.c.asset)
                            and (self.c.protocol is None or m.protocol is self.c.protocol))
            snapshot = replace(snapshot, markets=markets)
        book = self.book
        live = [] if book is None else [LivePosition(book.position, book.readings(
            price, self.c.liquidation_ltv, self.c.maintenance_margin_rate))]
        preset = self.settings.preset
        tick = decide_for_user(
            snapshot=snapshot,
            funding_history_hourly=self.h.funding_history(hour, preset.persistence_hours),
            positions=live,
            free_capital_usd=self.cash if book is None else ZERO,
            settings=self.settings,
            kill_switch=KillSwitch.OFF,
            now=hour,
            fees=self.c.fees,
            outlook=outlook_at(self.h, hour, preset.lookback_hours, preset.persistence_hours),
            market_means=self.h.mean_markets_at(hour, preset.lookback_hours),
        )
        for decision in tick.decisions:
            if isinstance(decision, Close) and self.book is not None:
                self._close(hour, price, decision.reason)
            elif isinstance(decision, Rebalance) and self.book is not None:
                if self.c.rebalance == "bridge":
                    self._bridge(hour, price)
                else:
                    self._shrink(hour, price)
            elif isinstance(decision, Open) and self.book is None:
                market = snapshot.market(decision.asset, decision.protocol)
                assert market is not None
                self._open(hour, price, market, decision.leverage, decision.notional_usd,
                           decision.capital_usd, decision.reason)

    def _mark(self, price: Decimal) -> None:
        book = self.book
        assert book is not None
        if price != book.mark:
            self.price += (book.units * book.rate - book.size) * (price - book.mark)
            book.mark = price

    def _open(self, hour: datetime, price: Decimal, market: LendingMarket, leverage: Decimal,
              notional: Decimal, capital: Decimal, reason: str) -> None:
        fee = self.c.fees.open_usd(notional)
        collateral = notional / leverage
        position = Position(
            position_id=f"bt-{len(self.trades) + 1}", user_id="backtest", asset=market.asset,
            protocol=market.protocol, leverage=leverage, target_notional_usd=notional,
            status=PositionStatus.OPEN, created_at=hour, updated_at=hour,
        )
        before = self._pnl_total()
        self.cash -= capital
        self.fees -= fee
        size = notional / price
        book = _Book(position, units=size, debt=notional - collateral, margin=capital - collateral - fee,
                     size=size, entry=price, rates=self.h.pair_hours(market.asset, market.protocol),
                     open_reason=reason, pnl_at_open=before)
        book.dist_open = book.distance(price, self.c.liquidation_ltv, self.c.maintenance_margin_rate)
        self.book = book
        self.opened_once = True

    def _finish(self, hour: datetime, reason: str) -> None:
        book = self.book
        assert book is not None
        self.trades.append(Trade(book.asset, book.protocol, book.leverage, book.opened_at, hour,
                                 book.notional, book.open_reason, reason, self._pnl_total() - book.pnl_at_open))
        self.book = None

    def _close(self, hour: datetime, price: Decimal, reason: str, *, last: bool = False) -> None:
        """A close pays its fees and, as live (services/capital_balance.py), one transfer that splits the capital
        between the venues again for the next open (the cash is then one pool); not at the backtest's end."""
        book = self.book
        assert book is not None
        fee = self.c.fees.close_usd(book.size * price)
        if self.c.rebalance == "bridge" and not last:
            fee += self.c.fees.bridge_usd + self.c.fees.jito_tip_usd
        self.cash += book.value(price) - fee
        self.fees -= fee
        self._finish(hour, reason)

    def _shrink(self, hour: datetime, price: Decimal) -> None:
        """What the live rebalance workflow does: both legs shrink by the SOL that restores the open's distance
        (`size_rebalance`, the tick's target); the short buys back reduce-only (its realized PnL stays in the
        account), the long deleverages (sells to repay debt, its equity stays) or, when the sale would exceed
        the debt, closes that share of itself and its equity goes to the wallet. When no reduction restores
        the distance the workflow asks for a close, and so does this."""
        book = self.book
        assert book is not None
        fees = self.c.fees
        exposure = book.units * book.rate
        legs = self._legs(book, price)
        try:
            sized = size_rebalance(legs, book.dist_open)
        except CannotRebalance as error:
            self._close(hour, price, f"rebalance: {error}")
            return
        reduce = sized.reduce_sol
        if reduce <= ZERO:
            return
        cost = fees.reduce_usd(reduce * price)
        book.margin += reduce * (book.entry - price) - cost
        book.size -= reduce
        if sized.method == "deleverage":
            book.units -= reduce / book.rate
            book.debt -= reduce * price
        else:
            kept = ONE - reduce / exposure
            paid = (exposure * price - book.debt) * (ONE - kept)
            self.cash += paid
            book.paid_out += paid
            book.units *= kept
            book.debt *= kept
        self.fees -= cost
        book.notional = book.size * price
        book.shrunk()
        self.rebalances += 1

    def _legs(self, book: _Book, price: Decimal) -> LegsNow:
        exposure = book.units * book.rate
        return LegsNow(long_value_usd=exposure * price, long_debt_usd=book.debt,
                       long_liquidation_threshold=self.c.liquidation_ltv, long_sol=exposure,
                       account_value_usd=book.margin + book.size * (book.entry - price),
                       account_short_sol=book.size, maintenance_rate=self.c.maintenance_margin_rate,
                       sol_price_usd=price, position_short_sol=book.size)

    def _bridge(self, hour: datetime, price: Decimal) -> None:
        """As the live workflow does by default (`rebalance="bridge"`): `size_bridge_rebalance` moves USDC between
        the venues (one transfer: `bridge_usd` and a Solana transaction's tip) so that a fall costs no trade and a
        rally a smaller partial close than a shrink; when no transfer helps, the shrink. A transfer is counted as
        done within the hour (CCTP takes seconds from Solana, about 15-20 minutes from Arbitrum)."""
        book = self.book
        assert book is not None
        fees = self.c.fees
        fixed = fees.bridge_usd + fees.jito_tip_usd
        reduce_rate = fees.reduce_rate
        plan = size_bridge_rebalance(self._legs(book, price), book.dist_open, transfer_cost_usd=fixed,
                                     reduce_cost_rate=reduce_rate)
        if plan is None:
            self._shrink(hour, price)
            return
        if plan.direction == TO_LONG:
            book.margin -= plan.transfer_usd
            book.debt -= plan.transfer_usd - fixed
            self.fees -= fixed
        else:
            reduce = plan.reduce_sol
            kept = ONE - reduce / (book.units * book.rate)
            trading = reduce_rate * reduce * price
            book.margin += reduce * (book.entry - price) + plan.transfer_usd - fixed
            book.size -= reduce
            book.units *= kept
            book.debt *= kept
            self.fees -= trading + fixed
            book.notional = book.size * price
        book.shrunk()
        self.rebalances += 1

    # --- one hour of a live position: the hot loop -------------------------------------------------------

    def _hour(self, book: _Book, hour: datetime, p0: Decimal, high: Decimal, low: Decimal, p1: Decimal) -> None:
        c = self.c
        rates = book.rates[hour]
        funding, funding_carried = self.funding_paid[hour]
        if rates.carried or funding_carried:
            self.carried += 1

        exposure = book.units * book.rate
        long_liq = book.debt / (exposure * c.liquidation_ltv)
        short_liq = book.short_liquidation_price(c.maintenance_margin_rate)
        long_hit, short_hit = low <= long_liq, high >= short_liq
        if long_hit and short_hit:  # whichever price is nearer the open is reached first
            long_hit = p0 - long_liq <= short_liq - p0
            short_hit = not long_hit
        if long_hit:
            self._liquidate_long(hour, long_liq, exposure)
            return
        if short_hit:
            self._liquidate_short(hour, short_liq, exposure)
            return

        units, rate, size = book.units, book.rate, book.size
        rate1 = rate * rates.stake_growth
        units1 = units * rates.supply_growth
        debt1 = book.debt * rates.borrow_growth
        self.staking += units * (rate1 - rate) * p0
        self.lending += (units1 - units) * rate1 * p0
        self.borrow += book.debt - debt1
        self.price += (units1 * rate1 - size) * (p1 - book.mark)
        earned = size * p1 * funding  # POSITIVE funding: longs pay shorts; this short earns
        self.funding += earned
        book.rate, book.units, book.debt, book.mark = rate1, units1, debt1, p1
        book.margin += earned

    def _liquidate_long(self, hour: datetime, at: Decimal, exposure: Decimal) -> None:
        book = self.book
        assert book is not None
        self.price += (exposure - book.size) * (at - book.mark)
        penalty = min(self.c.liquidation_penalty * book.debt, exposure * at - book.debt)
        short_fee = self.c.fees.hyperliquid_taker_rate * book.size * at
        self.cash += book.value(at) - penalty - short_fee
        self.fees -= penalty + short_fee
        self.liquidations += 1
        self._finish(hour, f"the long was liquidated at ${at:.2f} (hour low)")

    def _liquidate_short(self, hour: datetime, at: Decimal, exposure: Decimal) -> None:
        book = self.book
        assert book is not None
        self.price += (exposure - book.size) * (at - book.mark)
        lost = book.margin + book.size * (book.entry - at)  # what is left in the isolated account
        fees = self.c.fees
        long_fee = (fees.asgard_close_rate + fees.swap_slippage_rate) * exposure * at + fees.jito_tip_usd
        self.cash += book.value(at) - lost - long_fee
        self.fees -= lost + long_fee
        self.liquidations += 1
        self._finish(hour, f"the short was liquidated at ${at:.2f} (hour high)")
