"""decide_for_user: kill switch, staleness, the break-even entry, exits, switches, capacity and rebalances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.carry import DEFAULT_FEES, FeeSchedule, carry_components, carry_outlook, expected_carry_usd
from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.positions import Position, PositionStatus
from dnbot.domain.presets import PRESETS, PresetName, UserSettings
from dnbot.domain.rates import FundingQuote, LendingMarket, RatesSnapshot
from dnbot.domain.risk import ExitReason, RiskReadings
from dnbot.domain.strategy import (
    Close,
    Hold,
    LivePosition,
    Open,
    Rebalance,
    decide_for_user,
)

D = Decimal
NOW = datetime(2025, 8, 1, 12, tzinfo=UTC)
GOOD = D("0.00003")  # 0.003%/h: 39% APY on the short's notional at 3x
LONG = 1464  # the balanced lookback (1440 h) + a day to smooth its first hours


def snapshot(funding: Decimal = GOOD, predicted: Decimal | None = None, at: datetime = NOW,
             markets: tuple[LendingMarket, ...] | None = None) -> RatesSnapshot:
    default = (
        LendingMarket(Asset.JITOSOL, Protocol.KAMINO, D(0), D("0.06"), D("0.07")),
        LendingMarket(Asset.SOL, Protocol.DRIFT, D("0.03"), D("0.07"), D(0)),
    )
    return RatesSnapshot(at, default if markets is None else markets,
                         FundingQuote(funding, predicted, D(150), D(150)), D(150), "test")


def position(status: PositionStatus = PositionStatus.OPEN) -> Position:
    return Position("p1", "u1", Asset.JITOSOL, Protocol.KAMINO, D(3), D(15_000), status, NOW, NOW)


def decide(**overrides: object) -> tuple[object, ...]:
    inputs: dict[str, object] = {"snapshot": snapshot(), "funding_history_hourly": [GOOD] * LONG, "positions": [],
                                     "free_capital_usd": D(10_000), "settings": UserSettings.create("balanced"),
                                     "kill_switch": KillSwitch.OFF, "now": NOW}
    inputs.update(overrides)
    return decide_for_user(**inputs).decisions  # type: ignore[arg-type]


SOL_DRIFT = (LendingMarket(Asset.SOL, Protocol.DRIFT, D("0.03"), D("0.07"), D(0)),)  # -2.5%/yr without funding


def test_opens_the_best_market_and_explains_why() -> None:
    (decision,) = decide()
    assert isinstance(decision, Open)
    assert (decision.asset, decision.protocol, decision.leverage) == (Asset.JITOSOL, Protocol.KAMINO, D(3))
    # capital 10000 less the 5% margin buffer, x 3 / 2, rounded down to Hyperliquid's 0.01 SOL lot at $150
    assert decision.notional_usd == D("14250.00")
    # 60 quiet days on top of the long-run prior (720 h at one episode per 655 h): (720 + 1440) x 655 / 720
    assert "jitoSOL/kamino" in decision.reason and "1965 h horizon" in decision.reason
    assert "round trip" in decision.reason


def test_kill_switch_close_all_closes_everything_and_opens_nothing() -> None:
    decisions = decide(kill_switch=KillSwitch.CLOSE_ALL, positions=[LivePosition(position())])
    assert isinstance(decisions[0], Close) and decisions[0].exit_reason is ExitReason.KILL_SWITCH
    assert not any(isinstance(d, Open) for d in decisions)


def test_kill_switch_no_new_positions_holds() -> None:
    decisions = decide(kill_switch=KillSwitch.NO_NEW_POSITIONS)
    assert [type(d) for d in decisions] == [Hold] and "kill switch" in decisions[0].reason  # type: ignore[attr-defined]


def test_stale_rates_open_nothing() -> None:
    limit = PRESETS[PresetName.BALANCED].exits.max_data_age_seconds
    assert isinstance(decide(now=NOW + timedelta(seconds=limit))[0], Open)
    (held,) = decide(now=NOW + timedelta(seconds=limit + 1))
    assert isinstance(held, Hold) and "old" in held.reason


def test_one_hours_spike_does_not_open() -> None:
    spike = [D(0)] * (LONG - 1) + [D("0.001")]  # one hour at 0.1%/h, the rest at zero
    (held,) = decide(funding_history_hourly=spike, snapshot=snapshot(funding=D("0.001"), markets=SOL_DRIFT))
    assert isinstance(held, Hold) and "funding counted 0.0000000/h" in held.reason


def test_a_short_history_starts_from_the_long_run_horizon() -> None:
    (fresh,) = decide(funding_history_hourly=[GOOD] * 48)
    # 48 h = 25 day means, no episode: (720 + 25) x 655 / 720 h, about the long-run 655 h between episodes
    assert isinstance(fresh, Open) and "677 h horizon" in fresh.reason
    (held,) = decide(funding_history_hourly=[])
    assert isinstance(held, Hold) and "no funding history" in held.reason


def test_carry_off_episodes_shorten_the_horizon_and_can_block_the_entry() -> None:
    day_off = [D("-0.00002")] * 72 + [GOOD] * 48  # three negative days (67 h of negative day means), recovery
    history = ([GOOD] * 176 + day_off) * 14 + [GOOD] * 120
    outlook = carry_outlook(history[-LONG:], lookback_hours=1440)
    assert outlook.carry_off_episodes >= 3
    assert outlook.horizon_hours == (720 + 1440) * 655 // (720 + 655 * outlook.carry_off_episodes)
    (decision,) = decide(funding_history_hourly=history, snapshot=snapshot(markets=SOL_DRIFT))
    full = decide(snapshot=snapshot(markets=SOL_DRIFT))[0]
    assert isinstance(full, Open)
    assert f"{outlook.horizon_hours} h horizon" in decision.reason  # type: ignore[attr-defined]


def test_leaving_prices_the_close_at_todays_notional_not_the_entrys() -> None:
    crash = ([GOOD] * 170 + [D("-0.0001")] * 30) * 7 + [GOOD] * 64 + [D("-0.001")] * 6
    ledger = LivePosition(position())  # $15,000 per leg at the entry; no venue reading
    (left,) = decide(positions=[ledger], funding_history_hourly=crash)[:1]
    assert isinstance(left, Close) and f"the ${DEFAULT_FEES.round_trip_usd(D(15_000)):.2f} round trip" in left.reason
    # after a rally: Hyperliquid reports 100 SOL short at $200, so a close now pays fees on $20,000 per leg
    rallied = LivePosition(position(), RiskReadings(short_size_sol=D(100), oracle_price_usd=D(200)))
    (left,) = decide(positions=[rallied], funding_history_hourly=crash)[:1]
    assert isinstance(left, Close) and f"the ${DEFAULT_FEES.round_trip_usd(D(20_000)):.2f} round trip" in left.reason


def test_a_negative_prediction_blocks_the_entry() -> None:
    (held,) = decide(snapshot=snapshot(predicted=D("-0.00005"), markets=SOL_DRIFT))
    assert isinstance(held, Hold)


def test_capacity_and_max_leverage_exclude_markets() -> None:
    full = (LendingMarket(Asset.JITOSOL, Protocol.KAMINO, D(0), D("0.06"), D("0.07"), borrow_capacity_usd=D(100)),
            LendingMarket(Asset.SOL, Protocol.DRIFT, D("0.03"), D("0.07"), D(0), max_leverage=D(2)))
    (held,) = decide(snapshot=snapshot(markets=full))
    assert isinstance(held, Hold) and "capacity" in held.reason


def test_one_position_at_a_time() -> None:
    decisions = decide(positions=[LivePosition(position(PositionStatus.PENDING))])
    assert not any(isinstance(d, Open) for d in decisions)


def test_a_negative_spell_closes_only_when_staying_costs_more_than_a_round_trip() -> None:
    live = [LivePosition(position())]
    mild = [GOOD] * (LONG - 6) + [D("-0.000005")] * 6  # the short pays a little: staking still covers it
    assert isinstance(decide(positions=live, funding_history_hourly=mild)[0], Hold)
    # a crash: the short pays 0.1%/h; the history's negative spells last 30 h on average
    crash = ([GOOD] * 170 + [D("-0.0001")] * 30) * 7 + [GOOD] * 64 + [D("-0.001")] * 6
    close = decide(positions=live, funding_history_hourly=crash)[0]
    assert isinstance(close, Close) and close.exit_reason is ExitReason.CARRY_GONE
    assert "negative spell" in close.reason and "round trip" in close.reason


def test_switching_pays_a_round_trip_so_only_a_large_gain_switches() -> None:
    live = [LivePosition(position())]  # jitoSOL/kamino at 3x, $15,000 a leg
    held = LendingMarket(Asset.JITOSOL, Protocol.KAMINO, D(0), D("0.06"), D("0.07"))
    slightly = LendingMarket(Asset.JITOSOL, Protocol.DRIFT, D(0), D("0.05"), D("0.07"))
    assert isinstance(decide(positions=live, snapshot=snapshot(markets=(held, slightly)))[0], Hold)
    much = LendingMarket(Asset.JITOSOL, Protocol.DRIFT, D(0), D("-1.5"), D("0.07"))  # paid to borrow
    switch = decide(positions=live, snapshot=snapshot(markets=(held, much)))[0]
    assert isinstance(switch, Close) and switch.reason.startswith("switch: jitoSOL/drift")
    # the reason names the best candidate, the one the next tick's entry ranks first, not the first that passes
    better = LendingMarket(Asset.SOL, Protocol.KAMINO, D("0.05"), D("-2"), D(0))
    switch = decide(positions=live, snapshot=snapshot(markets=(held, much, better)))[0]
    assert isinstance(switch, Close) and switch.reason.startswith("switch: SOL/kamino")
    (opened,) = decide(snapshot=snapshot(markets=(held, much, better)))
    assert isinstance(opened, Open) and (opened.asset, opened.protocol) == (Asset.SOL, Protocol.KAMINO)


def test_the_bot_enters_and_switches_only_where_asgard_can_rebalance_the_long_in_place() -> None:
    """Asgard's position updates exist on Kamino and Drift only: a marginfi or Solend long can only be closed, so
    the best carry there is neither opened nor switched to, and a position there (opened by hand) that drifts
    toward liquidation closes where one on Kamino would rebalance."""
    held = LendingMarket(Asset.JITOSOL, Protocol.KAMINO, D(0), D("0.06"), D("0.07"))
    richer = (LendingMarket(Asset.SOL, Protocol.MARGINFI, D("0.05"), D("-2"), D(0)),
              LendingMarket(Asset.JITOSOL, Protocol.SOLEND, D("0.05"), D("-2"), D("0.07")))
    (opened,) = decide(snapshot=snapshot(markets=(held, *richer)))
    assert isinstance(opened, Open) and opened.protocol is Protocol.KAMINO
    assert isinstance(decide(positions=[LivePosition(position())], snapshot=snapshot(markets=(held, *richer)))[0],
                       Hold)
    (nothing,) = decide(snapshot=snapshot(markets=richer))
    assert isinstance(nothing, Hold) and "rebalanced in place" in nothing.reason

    drifting = RiskReadings(health_factor=D("1.08"), liquidation_distance_at_open=D("0.2"))
    on_marginfi = Position("p2", "u1", Asset.SOL, Protocol.MARGINFI, D(3), D(15_000), PositionStatus.OPEN, NOW, NOW)
    close = decide(positions=[LivePosition(on_marginfi, drifting)])[0]
    assert isinstance(close, Close) and close.exit_reason is ExitReason.LIQUIDATION_DISTANCE
    assert "cannot re-centre a marginfi long in place" in close.reason
    assert isinstance(decide(positions=[LivePosition(position(), drifting)])[0], Rebalance)


def test_a_one_hour_rate_spike_neither_opens_nor_switches_when_the_lookbacks_mean_is_known() -> None:
    live = [LivePosition(position())]
    held = LendingMarket(Asset.JITOSOL, Protocol.KAMINO, D(0), D("0.06"), D("0.07"))
    spiking = LendingMarket(Asset.JITOSOL, Protocol.DRIFT, D(0), D("-1.5"), D("0.07"))  # this hour only
    usual = LendingMarket(Asset.JITOSOL, Protocol.DRIFT, D(0), D("0.09"), D("0.07"))  # its 60-day mean
    markets = snapshot(markets=(held, spiking))
    assert isinstance(decide(positions=live, snapshot=markets)[0], Close)  # no mean known: it would switch
    kept = decide(positions=live, snapshot=markets, market_means=[held, usual])[0]
    assert isinstance(kept, Hold)
    opened = decide(snapshot=markets, market_means=[held, usual])[0]
    assert isinstance(opened, Open) and opened.protocol is Protocol.KAMINO  # ranked on the 60-day means


def test_risk_readings_drive_close_and_rebalance() -> None:
    hurt = LivePosition(position(), RiskReadings(health_factor=D("1.01")))
    close = decide(positions=[hurt])[0]
    assert isinstance(close, Close) and close.exit_reason is ExitReason.HEALTH_FACTOR
    drifting = LivePosition(position(), RiskReadings(health_factor=D("1.08"), liquidation_distance_at_open=D("0.2")))
    assert isinstance(decide(positions=[drifting])[0], Rebalance)


def test_stale_rates_pause_rate_exits_but_not_risk_exits() -> None:
    late = NOW + timedelta(hours=1)
    crash = [GOOD] * (LONG - 24) + [D("-0.001")] * 24
    (held, _) = decide(positions=[LivePosition(position())], funding_history_hourly=crash, now=late)
    assert isinstance(held, Hold) and "stale" in held.reason
    hurt = LivePosition(position(), RiskReadings(health_factor=D("1.01")))
    assert isinstance(decide(positions=[hurt], now=late)[0], Close)


def test_a_paused_bot_still_protects_its_positions_but_trades_no_carry() -> None:
    """Paused or stopped: the risk breakers close and a drifting position rebalances, as when running; a carry
    exit, a switch and an open are the strategy's and wait for the bot to be launched again."""
    hurt = LivePosition(position(), RiskReadings(health_factor=D("1.01")))
    close = decide(positions=[hurt], strategy_on=False)[0]
    assert isinstance(close, Close) and close.exit_reason is ExitReason.HEALTH_FACTOR
    drifting = LivePosition(position(), RiskReadings(health_factor=D("1.08"), liquidation_distance_at_open=D("0.2")))
    assert isinstance(decide(positions=[drifting], strategy_on=False)[0], Rebalance)
    crash = ([GOOD] * 170 + [D("-0.0001")] * 30) * 7 + [GOOD] * 64 + [D("-0.001")] * 6
    live = [LivePosition(position())]
    assert isinstance(decide(positions=live, funding_history_hourly=crash)[0], Close)  # running: it leaves
    kept, nothing_new = decide(positions=live, funding_history_hourly=crash, strategy_on=False)
    assert isinstance(kept, Hold) and "bot not running" in kept.reason
    much = LendingMarket(Asset.JITOSOL, Protocol.DRIFT, D(0), D("-1.5"), D("0.07"))
    held = LendingMarket(Asset.JITOSOL, Protocol.KAMINO, D(0), D("0.06"), D("0.07"))
    assert isinstance(decide(positions=live, snapshot=snapshot(markets=(held, much)), strategy_on=False)[0], Hold)
    assert isinstance(nothing_new, Hold) and "paused or stopped" in nothing_new.reason
    (idle,) = decide(strategy_on=False)  # free capital and a carry that clears the bar
    assert isinstance(idle, Hold) and "nothing new opens" in idle.reason
    assert isinstance(decide(kill_switch=KillSwitch.CLOSE_ALL, positions=live, strategy_on=False)[0], Close)


@settings(max_examples=60, deadline=None)
@given(funding=st.decimals(min_value=D("-0.0001"), max_value=D("0.0002"), places=7),
       borrow=st.decimals(min_value=D("0"), max_value=D("0.3"), places=4),
       preset=st.sampled_from(list(PresetName)))
def test_opens_exactly_when_the_expected_carry_covers_the_round_trip(funding: Decimal, borrow: Decimal,
                                                                     preset: PresetName) -> None:
    markets = (LendingMarket(Asset.JITOSOL, Protocol.DRIFT, D(0), borrow, D("0.07")),)
    chosen = PRESETS[preset]
    history = [funding] * (chosen.lookback_hours + 24)
    (decision,) = decide(snapshot=snapshot(funding=funding, markets=markets), funding_history_hourly=history,
                         settings=UserSettings.create(preset))
    capital = D(10_000)
    horizon = carry_outlook(history, lookback_hours=chosen.lookback_hours).horizon_hours
    # 60 days without an episode, or one running all along, on top of the 720 h prior at 655 h per episode
    assert horizon == (1965 if funding >= 0 else 1028)
    deployed = capital * (1 - chosen.margin_buffer)  # the buffer earns nothing
    carry = expected_carry_usd(carry_components(markets[0], funding, chosen.leverage), deployed, horizon)
    notional = deployed * chosen.leverage / 2
    bar = (1 + chosen.margin_of_safety) * DEFAULT_FEES.round_trip_usd(notional)
    assert isinstance(decision, Open) == (carry >= bar)
    if not isinstance(decision, Open):
        assert isinstance(decision, Hold) and "round trip" in decision.reason


@settings(max_examples=40, deadline=None)
@given(funding=st.decimals(min_value=D("0"), max_value=D("0.00005"), places=7),
       scale=st.decimals(min_value=D("1"), max_value=D("4"), places=2))
def test_higher_fees_never_turn_a_hold_into_an_entry(funding: Decimal, scale: Decimal) -> None:
    cheap = FeeSchedule()
    dear = FeeSchedule(hyperliquid_taker_rate=cheap.hyperliquid_taker_rate * scale,
                       asgard_open_rate=cheap.asgard_open_rate * scale,
                       asgard_close_rate=cheap.asgard_close_rate * scale,
                       swap_slippage_rate=cheap.swap_slippage_rate * scale)
    history = [funding] * 200
    opens_dear = isinstance(decide(funding_history_hourly=history, fees=dear,
                                   snapshot=snapshot(funding=funding, markets=SOL_DRIFT))[0], Open)
    opens_cheap = isinstance(decide(funding_history_hourly=history, fees=cheap,
                                    snapshot=snapshot(funding=funding, markets=SOL_DRIFT))[0], Open)
    assert opens_cheap or not opens_dear
