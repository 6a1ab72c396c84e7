"""The per-user decision: the strategy_tick Lambda calls it every minute and the backtester every hour.

`decide_for_user(...)` is pure and takes, all keyword-only:

- `snapshot`: the latest `RatesSnapshot` (every Asgard market with its supply/borrow/staking APY and
  capacities, Hyperliquid's current and predicted HOURLY funding, the SOL prices), and its `at` time;
- `funding_history_hourly`: Hyperliquid's settled hourly funding rates, OLDEST FIRST, at least the preset's
  persistence window (48 h covers every preset); positive = the short earned;
- `positions`: the user's live positions, each a `LivePosition` = the `Position` record + its `RiskReadings`
  (health factor, margin ratio, liquidation price, prices, depeg, equity and peak equity);
- `free_capital_usd`: capital the user has not committed (collateral + margin available to a new position);
- `settings`: the user's `UserSettings` (preset, leverage 2-4x, max position size);
- `kill_switch`: the operator's `KillSwitch` (off / no-new-positions / close-all);
- `now`: the tick's time (for the staleness check); `fees`: the `FeeSchedule` (defaults to Hyperliquid's
  taker fee and the project's Asgard assumptions).

It returns a `TickDecision`: one `Close`, `Rebalance` or `Hold` per live position, then at most one `Open`
(or a `Hold` saying why nothing opens). Every decision carries a one-line `reason` a user can read.

Entry rule: among the snapshot's markets at the user's leverage, the best net APY (after the round trip's
fees amortized over the preset's expected holding period) must clear the preset's `min_net_apy` with a
PERSISTENT funding rate: the lowest of the current hour, the venue's prediction, the mean and the median of
the last `persistence_hours` hours (so one hour's spike does not open a trade), and at least
`min_positive_share` of those hours must have paid the short. Capacity limits (Asgard deposit/borrow) and the
market's max leverage must allow the position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.carry import DEFAULT_FEES, CarryComponents, FeeSchedule, carry_components, fee_drag_apy
from dnbot.domain.positions import Position, PositionStatus
from dnbot.domain.presets import MIN_POSITION_USD, UserSettings
from dnbot.domain.rates import LendingMarket, RatesSnapshot
from dnbot.domain.risk import ExitReason, RiskReadings, Verdict, assess, trailing_negative_hours
from dnbot.domain.sizing import SizingError, size_position
from dnbot.resources import KillSwitch

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


def persistent_funding_hourly(current_hourly: Decimal, predicted_hourly: Decimal | None,
                              window: Sequence[Decimal]) -> Decimal:
    """The funding rate an entry may count on: the lowest of current, predicted, window mean and median."""
    values = [current_hourly]
    if predicted_hourly is not None:
        values.append(predicted_hourly)
    if window:
        ordered = sorted(window)
        middle = len(ordered) // 2
        median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        values.extend((sum(window, ZERO) / len(window), median))
    return min(values)


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


def _exit_for(live: LivePosition, snapshot: RatesSnapshot, history: Sequence[Decimal], settings: UserSettings,
              rates_fresh: bool) -> Decision:
    position = live.position
    rules = settings.exits
    verdict = assess(live.readings, rules)
    if verdict.verdict is Verdict.CLOSE and verdict.reason is not None:
        return Close(position.position_id, verdict.reason, verdict.explanation)
    if rates_fresh:
        flipped = trailing_negative_hours(list(history))
        if flipped >= rules.funding_flipped_hours:
            return Close(position.position_id, ExitReason.FUNDING_FLIPPED,
                         f"funding negative (the short pays) for {flipped} h "
                         f">= {rules.funding_flipped_hours} h")
        market = snapshot.market(position.asset, position.protocol)
        window = history[-rules.funding_flipped_hours:]
        if market is not None and len(window) == rules.funding_flipped_hours:
            mean = sum(window, ZERO) / len(window)
            carry = carry_components(market, mean, position.leverage).gross
            if carry < rules.min_net_apy_to_stay:
                return Close(position.position_id, ExitReason.CARRY_GONE,
                             f"carry {carry:.2%}/yr over the last {len(window)} h < "
                             f"{rules.min_net_apy_to_stay:.2%} to stay")
    if verdict.verdict is Verdict.REBALANCE:
        return Rebalance(position.position_id, verdict.explanation)
    suffix = "" if rates_fresh else " (rates stale: rate-based exits paused)"
    return Hold(verdict.explanation + suffix, position.position_id)


def decide_for_user(*, snapshot: RatesSnapshot, funding_history_hourly: Sequence[Decimal],
                    positions: Sequence[LivePosition], free_capital_usd: Decimal, settings: UserSettings,
                    kill_switch: KillSwitch, now: datetime, fees: FeeSchedule = DEFAULT_FEES) -> TickDecision:
    """See the module docstring for the inputs and the rules."""
    preset = settings.preset
    decisions: list[Decision] = []
    age = (now - snapshot.at).total_seconds()
    rates_fresh = age <= settings.exits.max_data_age_seconds
    live = [p for p in positions if p.position.status is PositionStatus.OPEN]

    for held in live:
        if kill_switch is KillSwitch.CLOSE_ALL:
            decisions.append(Close(held.position.position_id, ExitReason.KILL_SWITCH,
                                   "operator kill switch: close-all"))
        else:
            decisions.append(_exit_for(held, snapshot, funding_history_hourly, settings, rates_fresh))

    if kill_switch is not KillSwitch.OFF:
        decisions.append(Hold(f"operator kill switch: {kill_switch.value}, nothing new opens"))
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

    window = funding_history_hourly[-preset.persistence_hours:]
    if len(window) < preset.persistence_hours:
        decisions.append(Hold(f"only {len(window)} h of funding history, "
                              f"{preset.persistence_hours} h needed"))
        return TickDecision(tuple(decisions))
    positive_share = Decimal(sum(1 for r in window if r > ZERO)) / len(window)
    if positive_share < preset.min_positive_share:
        decisions.append(Hold(f"funding paid the short in {positive_share:.0%} of the last {len(window)} h "
                              f"< {preset.min_positive_share:.0%}"))
        return TickDecision(tuple(decisions))
    funding = persistent_funding_hourly(snapshot.funding.funding_hourly,
                                        snapshot.funding.predicted_funding_hourly, window)
    ranked = rank_markets(snapshot.markets, funding, settings.leverage, fees, preset.expected_holding_hours,
                          capital)
    if not ranked:
        decisions.append(Hold("no market has data, capacity and leverage for this position"))
        return TickDecision(tuple(decisions))
    best = ranked[0]
    label = f"{best.market.asset.value}/{best.market.protocol.label} {settings.leverage}x"
    if best.net_apy < preset.min_net_apy:
        decisions.append(Hold(f"best {label} nets {best.net_apy:.2%}/yr < {preset.min_net_apy:.2%} "
                              f"({preset.name.value}; funding counted {funding:.7f}/h)"))
        return TickDecision(tuple(decisions))
    try:
        sized = size_position(capital, settings.leverage, snapshot.funding.oracle_price,
                              max_position_usd=settings.max_position_usd, margin_buffer=preset.margin_buffer)
    except SizingError as why:
        decisions.append(Hold(f"cannot size {label}: {why}"))
        return TickDecision(tuple(decisions))
    decisions.append(Open(
        asset=best.market.asset, protocol=best.market.protocol, leverage=settings.leverage,
        notional_usd=sized.notional_usd, capital_usd=sized.capital_usd, net_apy=best.net_apy,
        components=best.components,
        reason=(f"{label} nets {best.net_apy:.2%}/yr >= {preset.min_net_apy:.2%} with persistent funding "
                f"{funding:.7f}/h ({positive_share:.0%} of {len(window)} h positive)"),
    ))
    return TickDecision(tuple(decisions))
