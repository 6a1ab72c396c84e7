"""decide_for_user: kill switch, staleness, persistence, thresholds, capacity and exits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.carry import DEFAULT_FEES, carry_components, fee_drag_apy
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
    persistent_funding_hourly,
)
from dnbot.resources import KillSwitch

D = Decimal
NOW = datetime(2025, 8, 1, 12, tzinfo=UTC)
GOOD = D("0.00003")  # 0.003%/h: 39% APY on the short's notional at 3x


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
    inputs: dict[str, object] = {"snapshot": snapshot(), "funding_history_hourly": [GOOD] * 48, "positions": [],
                                     "free_capital_usd": D(10_000), "settings": UserSettings.create("balanced"),
                                     "kill_switch": KillSwitch.OFF, "now": NOW}
    inputs.update(overrides)
    return decide_for_user(**inputs).decisions  # type: ignore[arg-type]


def test_opens_the_best_market_and_explains_why() -> None:
    (decision,) = decide()
    assert isinstance(decision, Open)
    assert (decision.asset, decision.protocol, decision.leverage) == (Asset.JITOSOL, Protocol.KAMINO, D(3))
    assert decision.net_apy >= PRESETS[PresetName.BALANCED].min_net_apy
    # capital 10000 less the 5% margin buffer, x 3 / 2, rounded down to Hyperliquid's 0.01 SOL lot at $150
    assert decision.notional_usd == D("14250.00")
    assert "jitoSOL/kamino" in decision.reason


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
    spike = [D(0)] * 47 + [D("0.001")]  # one hour at 0.1%/h, the rest at zero
    (held,) = decide(funding_history_hourly=spike, snapshot=snapshot(funding=D("0.001")))
    assert isinstance(held, Hold)


def test_persistence_needs_enough_history_and_positive_share() -> None:
    (held,) = decide(funding_history_hourly=[GOOD] * 23)
    assert isinstance(held, Hold) and "history" in held.reason
    mixed = [GOOD] * 16 + [D("-0.00001")] * 8  # 67% positive < 70%
    (held,) = decide(funding_history_hourly=mixed)
    assert isinstance(held, Hold) and "%" in held.reason


def test_persistent_funding_is_the_lowest_reading() -> None:
    assert persistent_funding_hourly(D(5), D(4), [D(1), D(9), D(9)]) == D(4)  # predicted
    assert persistent_funding_hourly(D(5), None, [D(1), D(2), D(30)]) == D(2)  # median beats the mean
    assert persistent_funding_hourly(D(1), None, []) == D(1)


def test_a_negative_prediction_blocks_the_entry() -> None:
    (held,) = decide(snapshot=snapshot(predicted=D("-0.00001")))
    assert isinstance(held, Hold)


def test_capacity_and_max_leverage_exclude_markets() -> None:
    full = (LendingMarket(Asset.JITOSOL, Protocol.KAMINO, D(0), D("0.06"), D("0.07"), borrow_capacity_usd=D(100)),
            LendingMarket(Asset.SOL, Protocol.DRIFT, D("0.03"), D("0.07"), D(0), max_leverage=D(2)))
    (held,) = decide(snapshot=snapshot(markets=full))
    assert isinstance(held, Hold) and "capacity" in held.reason


def test_one_position_at_a_time() -> None:
    decisions = decide(positions=[LivePosition(position(PositionStatus.PENDING))])
    assert not any(isinstance(d, Open) for d in decisions)


def test_funding_flipped_for_n_hours_closes() -> None:
    n = PRESETS[PresetName.BALANCED].exits.funding_flipped_hours
    live = [LivePosition(position())]
    history = [GOOD] * 30 + [D("-0.000001")] * (n - 1)
    assert isinstance(decide(positions=live, funding_history_hourly=history)[0], Hold)
    history.append(D("-0.000001"))
    close = decide(positions=live, funding_history_hourly=history)[0]
    assert isinstance(close, Close) and close.exit_reason is ExitReason.FUNDING_FLIPPED


def test_risk_readings_drive_close_and_rebalance() -> None:
    hurt = LivePosition(position(), RiskReadings(health_factor=D("1.01")))
    close = decide(positions=[hurt])[0]
    assert isinstance(close, Close) and close.exit_reason is ExitReason.HEALTH_FACTOR
    drifting = LivePosition(position(), RiskReadings(health_factor=D("1.08"), liquidation_distance_at_open=D("0.2")))
    assert isinstance(decide(positions=[drifting])[0], Rebalance)


def test_stale_rates_pause_rate_exits_but_not_risk_exits() -> None:
    late = NOW + timedelta(hours=1)
    flipped = [D("-0.00001")] * 48
    (held, _) = decide(positions=[LivePosition(position())], funding_history_hourly=flipped, now=late)
    assert isinstance(held, Hold) and "stale" in held.reason
    hurt = LivePosition(position(), RiskReadings(health_factor=D("1.01")))
    assert isinstance(decide(positions=[hurt], now=late)[0], Close)


@settings(max_examples=60, deadline=None)
@given(funding=st.decimals(min_value=D("-0.0001"), max_value=D("0.0002"), places=7),
       borrow=st.decimals(min_value=D("0"), max_value=D("0.3"), places=4),
       preset=st.sampled_from(list(PresetName)))
def test_no_opportunity_passes_a_threshold_it_fails(funding: Decimal, borrow: Decimal, preset: PresetName) -> None:
    markets = (LendingMarket(Asset.JITOSOL, Protocol.KAMINO, D(0), borrow, D("0.07")),)
    decisions = decide(snapshot=snapshot(funding=funding, markets=markets), funding_history_hourly=[funding] * 48,
                       settings=UserSettings.create(preset))
    chosen = PRESETS[preset]
    expected = (carry_components(markets[0], funding, chosen.leverage).gross
                - fee_drag_apy(DEFAULT_FEES, chosen.leverage, chosen.expected_holding_hours, D(10_000)))
    (decision,) = decisions
    if isinstance(decision, Open):
        assert decision.net_apy == expected >= chosen.min_net_apy
        assert funding > 0
    else:
        assert isinstance(decision, Hold)
        # it held because the trade fails the bar (or funding never paid the short), never for no reason
        assert expected < chosen.min_net_apy or funding <= 0
