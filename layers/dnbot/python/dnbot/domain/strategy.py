"""The per-user decision: the strategy_tick Lambda calls it every minute and the backtester every hour.

`decide_for_user(...)` is pure and takes, all keyword-only:

- `snapshot`: the latest `RatesSnapshot` (every Asgard market with its supply/borrow/staking APY and
  capacities, Hyperliquid's current and predicted HOURLY funding, the SOL prices), and its `at` time;
- `funding_history_hourly`: Hyperliquid's hourly funding rates, OLDEST FIRST (the strategy looks back 60 days:
  1440 day means, so 1463 hours; less history gives a shorter horizon); positive = the short earned;
- `positions`: the user's live positions, each a `LivePosition` = the `Position` record + its `RiskReadings`
  (health factor, margin ratio, liquidation price, prices, depeg, equity and peak equity);
- `free_capital_usd`: capital the user has not committed (collateral + margin available to a new position);
- `settings`: the user's `UserSettings` (preset, leverage 2-4x, max position size);
- `kill_switch`: the operator's `KillSwitch` (off / no-new-positions / close-all);
- `now`: the tick's time (for the staleness check); `fees`: the `FeeSchedule` (defaults to Hyperliquid's
  taker fee and the project's Asgard assumptions);
- `outlook` (optional): the `CarryOutlook` the tick computed once from the stored funding history; computed
  here from `funding_history_hourly` when absent;
- `market_means` (optional): each market's mean rates over the lookback's hourly snapshots (60 days);
- `strategy_on` (default True): False when the user paused or stopped the bot: their open positions are still
  protected (the risk breakers close, a drifting position rebalances) but the strategy neither opens, nor
  leaves on the carry, nor switches pair.

It returns a `TickDecision`: one `Close`, `Rebalance` or `Hold` per live position, then at most one `Open`
(or a `Hold` saying why nothing opens). Every decision carries a one-line `reason` a user can read.

The rule (docs/strategy.md), every term estimated from the past only:
- ENTER the best market when the carry it is expected to earn over the expected holding horizon pays the round
  trip (both venues' fees, slippage, tips) with the preset's margin of safety:
  deployed capital x carry APY x horizon / 8760 >= (1 + margin_of_safety) x round trip. The horizon is the mean
  time between carry-off episodes in the last 60 days, starting from the long-run rate (`carry_outlook`); the
  funding counted is the lower of the last day's median and the last three days' mean; each market's rates
  are its mean over the last 60 days (`expected_market`).
- LEAVE when staying through the expected negative spell (its mean length in history) at the carry of the
  last six hours costs more than (1 + exit_margin) round trips; the risk breakers close first, whatever.
- SWITCH pair (a close now, an open next tick) when the candidate's expected carry beats the held pair's over
  the horizon by (1 + margin_of_safety) round trips.
- REBALANCE when the joint liquidation distance falls under the preset's share of the open's: the workflow
  (services/rebalance.py) shrinks both legs in place back to the open's distance, far cheaper than a round trip,
  so liquidation is never the exit.
Capacity limits (Asgard deposit/borrow) and the market's max leverage must allow the position, and the bot
enters or switches only where Asgard can re-centre the long in place (Kamino, Drift: `Protocol.rebalances_in_place`);
a position elsewhere (opened by hand) closes where another would rebalance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.carry import (
    DEFAULT_FEES,
    CarryComponents,
    CarryOutlook,
    FeeSchedule,
    carry_components,
    carry_outlook,
    expected_carry_usd,
    expected_market,
    fee_drag_apy,
    notional_for_capital,
)
from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.positions import Position, PositionStatus
from dnbot.domain.presets import MIN_POSITION_USD, UserSettings
from dnbot.domain.rates import LendingMarket, RatesSnapshot
from dnbot.domain.risk import ExitReason, RiskReadings, Verdict, assess
from dnbot.domain.sizing import SizingError, size_position

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class LivePosition:
    position: Position
    readings: RiskReadings = field(default_factory=RiskReadings)


@dataclass(frozen=True, slots=True)
class Open:
    asset: Asset
    protocol: Protocol
    leverage: Decimal
    notional_usd: Decimal  # each leg
    capital_usd: Decimal  # collateral + margin (+ buffer) the position ties up
    net_apy: Decimal
    components: CarryComponents
    reason: str
    kind: str = "open"


@dataclass(frozen=True, slots=True)
class Close:
    position_id: str
    exit_reason: ExitReason
    reason: str
    kind: str = "close"


@dataclass(frozen=True, slots=True)
class Rebalance:
    position_id: str
    reason: str
    kind: str = "rebalance"


@dataclass(frozen=True, slots=True)
class Hold:
    reason: str
    position_id: str | None = None
    kind: str = "hold"


Decision = Open | Close | Rebalance | Hold


@dataclass(frozen=True, slots=True)
class TickDecision:
    decisions: tuple[Decision, ...]

    @property
    def opens(self) -> tuple[Open, ...]:
        return tuple(d for d in self.decisions if isinstance(d, Open))

    @property
    def closes(self) -> tuple[Close, ...]:
        return tuple(d for d in self.decisions if isinstance(d, Close))

    @property
    def rebalances(self) -> tuple[Rebalance, ...]:
        return tuple(d for d in self.decisions if isinstance(d, Rebalance))


@dataclass(frozen=True, slots=True)
class Candidate:
    market: LendingMarket
    components: CarryComponents
    net_apy: Decimal


def rank_markets(markets: Sequence[LendingMarket], funding_hourly: Decimal, leverage: Decimal,
                 fees: FeeSchedule, holding_hours: int, capital_usd: Decimal) -> list[Candidate]:
    """Every market at `leverage`, best net APY first, skipping markets whose capacity or leverage cap forbid
    a position of `capital_usd`."""
    drag = fee_drag_apy(fees, leverage, holding_hours, capital_usd)
    notional = capital_usd * leverage / 2
    debt = notional - notional / leverage
    ranked = []
    for market in markets:
        if market.max_leverage is not None and leverage > market.max_leverage:
            continue
        if market.borrow_capacity_usd is not None and debt > market.borrow_capacity_usd:
            continue
        if market.deposit_capacity_usd is not None and notional > market.deposit_capacity_usd:
            continue
        components = carry_components(market, funding_hourly, leverage)
        ranked.append(Candidate(market, components, components.gross - drag))
    ranked.sort(key=lambda c: c.net_apy, reverse=True)
    return ranked


def _label(market: LendingMarket, leverage: Decimal) -> str:
    return f"{market.asset.value}/{market.protocol.label} {leverage}x"


def _expected_components(market: LendingMarket, outlook: CarryOutlook, leverage: Decimal) -> CarryComponents:
    return carry_components(market, outlook.expected_funding_hourly, leverage)


def _notional_now(live: LivePosition) -> Decimal:
    """Each leg's notional at the oracle price, on the short's size at Hyperliquid: what a close now pays fees on
    (after a rally it is larger than the ledger's notional, which stays at the entry price); the ledger's when the
    venue's size or price is not known."""
    size, price = live.readings.short_size_sol, live.readings.oracle_price_usd
    if size is None or not price:
        return live.position.target_notional_usd
    return size * price


def _exit_for(live: LivePosition, snapshot: RatesSnapshot, outlook: CarryOutlook, settings: UserSettings,
              rates_fresh: bool, fees: FeeSchedule, means: dict[tuple[Asset, Protocol], LendingMarket],
              strategy_on: bool = True) -> Decision:
    position = live.position
    preset = settings.preset
    verdict = assess(live.readings, settings.exits)
    if verdict.verdict is Verdict.CLOSE and verdict.reason is not None:
        return Close(position.position_id, verdict.reason, verdict.explanation)
    market = snapshot.market(position.asset, position.protocol)
    if strategy_on and rates_fresh and market is not None:
        notional = _notional_now(live)
        round_trip = fees.round_trip_usd(notional)
        capital = 2 * notional / position.leverage  # what the carry's APYs on capital apply to
        now = carry_components(market, outlook.recent_funding_hourly, position.leverage)
        spell = outlook.negative_spell_hours
        staying = expected_carry_usd(now, capital, spell)
        if staying < ZERO and -staying >= (1 + preset.exit_margin) * round_trip:
            return Close(position.position_id, ExitReason.CARRY_GONE,
                         f"carry {now.gross:.2%}/yr now: staying through the expected {spell:.0f} h negative "
                         f"spell costs ${-staying:.2f} >= {1 + preset.exit_margin} x the ${round_trip:.2f} "
                         f"round trip")
        horizon = min(outlook.horizon_hours, preset.switch_horizon_hours)
        counted = expected_market(market, means.get((market.asset, market.protocol)))
        held = expected_carry_usd(_expected_components(counted, outlook, position.leverage), capital, horizon)
        gains = []
        for other in snapshot.markets:
            if other.asset is position.asset and other.protocol is position.protocol:
                continue
            if not other.protocol.rebalances_in_place:
                continue
            if other.max_leverage is not None and position.leverage > other.max_leverage:
                continue
            counted_other = expected_market(other, means.get((other.asset, other.protocol)))
            earns = expected_carry_usd(_expected_components(counted_other, outlook, position.leverage), capital,
                                       horizon)
            gains.append((earns - held, other))
        if gains:
            gain, best = max(gains, key=lambda pair: pair[0])  # the pair the next tick's entry ranks first
            if gain >= (1 + preset.margin_of_safety) * round_trip:
                return Close(position.position_id, ExitReason.CARRY_GONE,
                             f"switch: {_label(best, position.leverage)} earns ${gain:.2f} more over "
                             f"{horizon} h >= {1 + preset.margin_of_safety} x the ${round_trip:.2f} round trip")
    if verdict.verdict is Verdict.REBALANCE:
        if not position.protocol.rebalances_in_place:
            return Close(position.position_id, ExitReason.LIQUIDATION_DISTANCE,
                         f"{verdict.explanation}; Asgard cannot re-centre a {position.protocol.display_name} long "
                         f"in place (its position updates exist on Kamino and Drift only): closing instead")
        return Rebalance(position.position_id, verdict.explanation)
    suffix = "" if rates_fresh else " (rates stale: rate-based exits paused)"
    if not strategy_on:
        suffix = " (bot not running: protected by the risk exits only)"
    return Hold(verdict.explanation + suffix, position.position_id)


def decide_for_user(*, snapshot: RatesSnapshot, funding_history_hourly: Sequence[Decimal],
                    positions: Sequence[LivePosition], free_capital_usd: Decimal, settings: UserSettings,
                    kill_switch: KillSwitch, now: datetime, fees: FeeSchedule = DEFAULT_FEES,
                    outlook: CarryOutlook | None = None,
                    market_means: Sequence[LendingMarket] = (), strategy_on: bool = True) -> TickDecision:
    """See the module docstring for the inputs and the rules. `outlook` may be passed precomputed (the tick
    computes it once for every user: `carry_outlook(history, lookback_hours=..., recent_hours=...)`); by
    default it is computed here from `funding_history_hourly` with the preset's windows. `market_means`: each
    market's mean rates over the lookback (`mean_markets`), if known: entries and switches count on them
    (`expected_market`), now's rates otherwise."""
    preset = settings.preset
    means = {(m.asset, m.protocol): m for m in market_means}
    if outlook is None:
        outlook = carry_outlook(list(funding_history_hourly), lookback_hours=preset.lookback_hours,
                                recent_hours=preset.persistence_hours)
    decisions: list[Decision] = []
    age = (now - snapshot.at).total_seconds()
    rates_fresh = age <= settings.exits.max_data_age_seconds
    live = [p for p in positions if p.position.status is PositionStatus.OPEN]

    for held in live:
        if kill_switch is KillSwitch.CLOSE_ALL:
            decisions.append(Close(held.position.position_id, ExitReason.KILL_SWITCH,
                                   "operator kill switch: close-all"))
        else:
            decisions.append(_exit_for(held, snapshot, outlook, settings, rates_fresh, fees, means, strategy_on))

    if kill_switch is not KillSwitch.OFF:
        decisions.append(Hold(f"operator kill switch: {kill_switch.value}, nothing new opens"))
        return TickDecision(tuple(decisions))
    if not strategy_on:
        decisions.append(Hold("bot not running (paused or stopped): nothing new opens"))
        return TickDecision(tuple(decisions))
    if not rates_fresh:
        limit = settings.exits.max_data_age_seconds
        decisions.append(Hold(f"rates are {age:.0f} s old > {limit} s: not opening"))
        return TickDecision(tuple(decisions))
    busy = {(p.position.asset, p.position.protocol) for p in positions if p.position.status.is_live}
    if busy:
        # one position per user: capital is not split, so a second trade would starve the first's margin
        decisions.append(Hold("a position is already live"))
        return TickDecision(tuple(decisions))
    capital = min(free_capital_usd, settings.max_position_usd)
    if capital < MIN_POSITION_USD:
        decisions.append(Hold(f"free capital ${free_capital_usd:.2f} < ${MIN_POSITION_USD} minimum"))
        return TickDecision(tuple(decisions))
    horizon = outlook.horizon_hours
    if horizon <= 0:
        decisions.append(Hold("no funding history: no holding horizon to estimate"))
        return TickDecision(tuple(decisions))
    funding = outlook.expected_funding_hourly
    predicted = snapshot.funding.predicted_funding_hourly
    if predicted is not None and predicted < funding:
        funding = predicted  # the venue expects less for the next hour: count on that
    markets = [expected_market(m, means.get((m.asset, m.protocol))) for m in snapshot.markets
               if m.protocol.rebalances_in_place]
    ranked = rank_markets(markets, funding, settings.leverage, fees, horizon, capital)
    if not ranked:
        decisions.append(Hold("no market where a position can be rebalanced in place (Kamino, Drift) has data, "
                              "capacity and leverage for this position"))
        return TickDecision(tuple(decisions))
    best = ranked[0]
    label = _label(best.market, settings.leverage)
    deployed = capital * (1 - preset.margin_buffer)  # the buffer waits in the Hyperliquid account, idle
    round_trip = fees.round_trip_usd(notional_for_capital(deployed, settings.leverage))
    expected = expected_carry_usd(best.components, deployed, horizon)
    bar = (1 + preset.margin_of_safety) * round_trip
    why = (f"{label}: carry {best.components.gross:.2%}/yr (funding counted {funding:.7f}/h) over the expected "
           f"{horizon} h horizon ({outlook.carry_off_episodes} carry-off episodes in {outlook.lookback_hours} h) "
           f"= ${expected:.2f}")
    if expected < bar:
        decisions.append(Hold(f"{why} < {1 + preset.margin_of_safety} x the ${round_trip:.2f} round trip"))
        return TickDecision(tuple(decisions))
    try:
        sized = size_position(capital, settings.leverage, snapshot.funding.oracle_price,
                              max_position_usd=settings.max_position_usd, margin_buffer=preset.margin_buffer)
    except SizingError as error:
        decisions.append(Hold(f"cannot size {label}: {error}"))
        return TickDecision(tuple(decisions))
    decisions.append(Open(
        asset=best.market.asset, protocol=best.market.protocol, leverage=settings.leverage,
        notional_usd=sized.notional_usd, capital_usd=sized.capital_usd, net_apy=best.net_apy,
        components=best.components,
        reason=f"{why} >= {1 + preset.margin_of_safety} x the ${round_trip:.2f} round trip",
    ))
    return TickDecision(tuple(decisions))
