"""Presets, user settings, and every circuit breaker at its boundary."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dnbot.domain.presets import PRESETS, Preset, PresetName, UserSettings
from dnbot.domain.risk import (
    ExitReason,
    JointView,
    RiskReadings,
    Verdict,
    assess,
    joint_view,
    liquidation_prices,
    long_drop_to_liquidation,
    short_liquidation_price,
    trailing_negative_hours,
)

D = Decimal
BALANCED = PRESETS[PresetName.BALANCED]
RULES = BALANCED.exits


def test_presets_parse_in_any_case_and_step_up_in_risk() -> None:
    assert Preset.parse("Balanced") is BALANCED
    assert Preset.parse(" AGGRESSIVE ").leverage == D("3.5")
    with pytest.raises(ValueError, match="expected one of"):
        Preset.parse("yolo")
    c, b, a = (PRESETS[n] for n in PresetName)
    assert (c.leverage, b.leverage, a.leverage) == (D(2), D(3), D("3.5"))
    assert c.persistence_hours > b.persistence_hours > a.persistence_hours
    assert c.exits.max_drawdown < b.exits.max_drawdown < a.exits.max_drawdown
    assert c.exits.min_health_factor > b.exits.min_health_factor > a.exits.min_health_factor
    # risk, not whether they trade: more round trips of margin, earlier rebalances, sooner exits
    assert c.margin_of_safety > b.margin_of_safety > a.margin_of_safety >= 0
    # the rebalance fires while the long is still further from liquidation than the worst recorded one-hour
    # drop (SOL 196.84 -> 168.79 on 2025-10-10, -14.25%): 1 - 1/HF at the open, HF = L x 0.85 / (L - 1)
    triggers = [p.exits.rebalance_share * (1 - (p.leverage - 1) / (p.leverage * D("0.85"))) for p in (c, b, a)]
    assert triggers[0] > triggers[1] > triggers[2] > D("0.1425")
    assert c.exit_margin < b.exit_margin < a.exit_margin


def test_user_settings_validate_leverage_and_size() -> None:
    settings = UserSettings.create("conservative", leverage="4", max_position_usd=1000)
    assert settings.leverage == D(4) and settings.max_position_usd == D(1000)
    assert settings.preset.name is PresetName.CONSERVATIVE
    assert UserSettings.create().leverage == D(3)  # balanced by default
    assert UserSettings.create(leverage=2).leverage == D(2)
    for bad in ("1.99", "4.01", "abc", "NaN"):
        with pytest.raises(ValueError):
            UserSettings.create(leverage=bad)
    with pytest.raises(ValueError, match="max position"):
        UserSettings.create(max_position_usd="49.99")
    assert UserSettings.create().with_overrides(leverage=2.5).leverage == D("2.5")


def readings(**values: object) -> RiskReadings:
    return RiskReadings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("field", "at_limit", "beyond", "reason"), [
    ("health_factor", RULES.min_health_factor, RULES.min_health_factor - D("0.0001"), ExitReason.HEALTH_FACTOR),
    ("margin_ratio", RULES.max_margin_ratio, RULES.max_margin_ratio + D("0.0001"), ExitReason.MARGIN_RATIO),
    ("lst_depeg", RULES.max_depeg, RULES.max_depeg + D("0.0001"), ExitReason.DEPEG),
])
def test_breakers_act_just_beyond_their_limit(field: str, at_limit: Decimal, beyond: Decimal,
                                              reason: ExitReason) -> None:
    assert assess(readings(**{field: at_limit}), RULES).verdict is Verdict.HOLD
    verdict = assess(readings(**{field: beyond}), RULES)
    assert verdict.verdict is Verdict.CLOSE and verdict.reason is reason
    assert verdict.explanation  # every decision explains itself


def test_divergence_between_venues() -> None:
    oracle = D(100)
    ok = readings(oracle_price_usd=oracle, long_venue_sol_price_usd=oracle * (1 + RULES.max_divergence))
    assert assess(ok, RULES).verdict is Verdict.HOLD
    bad = readings(oracle_price_usd=oracle, long_venue_sol_price_usd=oracle * (1 - RULES.max_divergence) - D("0.01"))
    assert assess(bad, RULES).reason is ExitReason.DIVERGENCE


def test_drawdown_from_the_position_peak() -> None:
    peak = D(10_000)
    at_limit = peak * (1 - RULES.max_drawdown)
    assert assess(readings(equity_usd=at_limit, peak_equity_usd=peak), RULES).verdict is Verdict.HOLD
    verdict = assess(readings(equity_usd=at_limit - D("0.01"), peak_equity_usd=peak), RULES)
    assert verdict.reason is ExitReason.DRAWDOWN


def test_joint_view_names_the_leg_a_move_liquidates_first() -> None:
    # HF 1.25: a 20% drop liquidates the long; the short's liquidation price 130 is a 30% rise from 100
    view = joint_view(readings(health_factor=D("1.25"), short_liquidation_price=D(130), oracle_price_usd=D(100)))
    assert view.long_drop_to_liquidation == D("0.2")
    assert view.short_rise_to_liquidation == D("0.3")
    assert view.first == "long" and view.distance == D("0.2")
    assert JointView(D("0.4"), D("0.1")).first == "short"
    assert JointView(None, None).first is None
    assert long_drop_to_liquidation(D("0.9")) == 0


def test_liquidation_prices_give_each_legs_sol_price_and_the_nearer_one() -> None:
    # HF 1.25 at SOL 100: a 20% drop, to $80.00, liquidates the long before a 30% rise to $130 the short
    prices = liquidation_prices(readings(health_factor=D("1.25"), short_liquidation_price=D(130),
                                         oracle_price_usd=D(100)))
    assert (prices.long_usd, prices.short_usd, prices.first, prices.nearer_usd) == (D("80.00"), D(130), "long",
                                                                                     D("80.00"))
    # the dashboard's case: SOL $195.30, HF 1.1990 (16.6% drop) and the short's $720.65 (269% rise): the long first
    prices = liquidation_prices(readings(health_factor=D("1.1990"), short_liquidation_price=D("720.65"),
                                         oracle_price_usd=D("195.30")))
    assert (prices.long_usd, prices.first, prices.nearer_usd) == (D("162.89"), "long", D("162.89"))
    # HF 2.5 at SOL 200 (60% drop, to $80.00) and the short's $250 (25% rise): the short first
    prices = liquidation_prices(readings(health_factor=D("2.5"), short_liquidation_price=D(250),
                                         oracle_price_usd=D(200)))
    assert (prices.long_usd, prices.short_usd, prices.first, prices.nearer_usd) == (D("80.00"), D(250), "short",
                                                                                     D(250))


def test_liquidation_prices_with_a_reading_missing() -> None:
    # no SOL price: the long's drop is known (the distance refers to it) but not the price it falls to
    prices = liquidation_prices(readings(health_factor=D("1.25"), short_liquidation_price=D(130)))
    assert (prices.long_usd, prices.short_usd, prices.first, prices.nearer_usd) == (None, D(130), "long", None)
    # Asgard unreadable: only the short's is known, and it is the nearer
    prices = liquidation_prices(readings(short_liquidation_price=D(130), oracle_price_usd=D(100)))
    assert (prices.long_usd, prices.first, prices.nearer_usd) == (None, "short", D(130))
    # a health factor at or under 1: the long is liquidable at the price now
    prices = liquidation_prices(readings(health_factor=D("0.98"), oracle_price_usd=D("150.25")))
    assert (prices.long_usd, prices.short_usd, prices.first) == (D("150.25"), None, "long")
    assert liquidation_prices(readings()) == liquidation_prices(readings(oracle_price_usd=D(100)))
    assert liquidation_prices(readings()).first is None


def test_short_liquidation_price_matches_its_definition() -> None:
    account, size, price, mmr = D(500), D(10), D(100), D("0.025")
    liq = short_liquidation_price(account, size, price, mmr)
    # at the liquidation price the account's value equals the maintenance margin
    assert abs(account + size * (price - liq) - mmr * size * liq) < D("1e-18")
    assert liq > price  # a short is liquidated by a rise


def test_rebalance_when_the_distance_shrinks_below_its_share() -> None:
    at_open = D("0.20")
    limit = at_open * RULES.rebalance_share
    hf_at_limit = 1 / (1 - limit)
    assert assess(readings(health_factor=hf_at_limit + D("0.001"), liquidation_distance_at_open=at_open),
                  RULES).verdict is Verdict.HOLD
    verdict = assess(readings(health_factor=hf_at_limit - D("0.001"), liquidation_distance_at_open=at_open), RULES)
    assert verdict.verdict is Verdict.REBALANCE and verdict.reason is ExitReason.LIQUIDATION_DISTANCE


def test_most_urgent_breaker_wins() -> None:
    verdict = assess(readings(health_factor=D("1.01"), margin_ratio=D("0.99"), lst_depeg=D("0.5")), RULES)
    assert verdict.reason is ExitReason.HEALTH_FACTOR


def test_trailing_negative_hours_counts_only_the_latest_run() -> None:
    assert trailing_negative_hours([D(-1), D(1), D(-1), D(-2)]) == 2
    assert trailing_negative_hours([D(-1), D(0)]) == 0  # a zero rate is not a flip
    assert trailing_negative_hours([]) == 0


def test_preset_describes_itself_for_the_dashboard() -> None:
    described = PRESETS[PresetName.AGGRESSIVE].to_dict()
    assert described["name"] == "aggressive" and described["leverage"] == "3.5"
    exits = described["exits"]
    assert isinstance(exits, dict) and exits["rebalance_share"] == "0.9" and exits["max_drawdown"] == "0.08"
