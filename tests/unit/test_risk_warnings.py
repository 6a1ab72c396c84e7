"""Risk warnings (dnbot.domain.risk_warnings): each reading warns once when it crosses its warning level, between
the open's level and the exit, and again only after it recovered past the hysteresis band."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dnbot.domain.presets import PRESETS, PresetName
from dnbot.domain.risk import ExitReason, RiskReadings, assess
from dnbot.domain.risk_warnings import (
    RECOVERY_SHARE,
    assess_warnings,
    decode_warned,
    encode_warned,
    levels,
)

RULES = PRESETS[PresetName.CONSERVATIVE].exits  # health factor exit 1.10, margin ratio exit 0.50
NONE: frozenset[str] = frozenset()


def test_the_levels_sit_between_a_healthy_open_and_the_exit() -> None:
    readings = RiskReadings(health_factor=Decimal("1.6"), margin_ratio=Decimal("0.1"), lst_depeg=Decimal(0),
                            long_venue_sol_price_usd=Decimal(150), oracle_price_usd=Decimal(150),
                            short_liquidation_price=Decimal(300), liquidation_distance_at_open=Decimal("0.5"))
    found = {level.check: level for level in levels(readings, RULES)}
    assert set(found) == {ExitReason.HEALTH_FACTOR, ExitReason.MARGIN_RATIO, ExitReason.LIQUIDATION_DISTANCE,
                          ExitReason.DEPEG, ExitReason.DIVERGENCE}
    assert found[ExitReason.HEALTH_FACTOR].warning == Decimal("1.155")
    assert found[ExitReason.MARGIN_RATIO].warning == Decimal("0.40")
    assert found[ExitReason.LIQUIDATION_DISTANCE].warning == Decimal("0.375")  # halfway from 50% to 25%
    for level in found.values():  # a healthy open warns about nothing
        assert not level.crossed, level
    assert assess_warnings(readings, RULES, NONE).new == ()


@pytest.mark.parametrize("readings, check", [
    (RiskReadings(health_factor=Decimal("1.15")), ExitReason.HEALTH_FACTOR),
    (RiskReadings(margin_ratio=Decimal("0.41")), ExitReason.MARGIN_RATIO),
    (RiskReadings(lst_depeg=Decimal("0.006")), ExitReason.DEPEG),
    (RiskReadings(long_venue_sol_price_usd=Decimal("150.5"), oracle_price_usd=Decimal(150)), ExitReason.DIVERGENCE),
    (RiskReadings(health_factor=Decimal(3), short_liquidation_price=Decimal(198), oracle_price_usd=Decimal(150),
                  liquidation_distance_at_open=Decimal("0.5")), ExitReason.LIQUIDATION_DISTANCE),
])
def test_a_reading_past_its_warning_but_short_of_its_exit_warns_before_the_bot_acts(
        readings: RiskReadings, check: ExitReason) -> None:
    state = assess_warnings(readings, RULES, NONE)
    assert [w.check for w in state.new] == [check] and state.warned == {check.value}
    assert assess(readings, RULES).reason is None  # not yet an exit: the warning comes first
    assert state.new[0].explanation


def test_the_distance_warning_says_what_the_bot_does_there() -> None:
    """A Kamino or Drift long is rebalanced at the distance's exit; a marginfi or Solend one is closed."""
    drifting = RiskReadings(health_factor=Decimal(3), short_liquidation_price=Decimal(198),
                            oracle_price_usd=Decimal(150), liquidation_distance_at_open=Decimal("0.5"))
    (warning,) = assess_warnings(drifting, RULES, NONE).new
    assert "(the bot rebalances under 25.0%)" in warning.explanation
    (warning,) = assess_warnings(drifting, RULES, NONE, rebalances_in_place=False).new
    assert "(the bot closes under 25.0%: no in-place rebalance on this protocol)" in warning.explanation


def test_one_warning_per_crossing_until_the_reading_recovers_past_the_band() -> None:
    warned = NONE
    announced = []
    warning = RULES.min_health_factor * Decimal("1.05")
    clear = warning + (warning - RULES.min_health_factor) * RECOVERY_SHARE
    for hf in ("1.30", "1.15", "1.14", "1.12", "1.16", "1.15", str(clear), "1.15"):
        state = assess_warnings(RiskReadings(health_factor=Decimal(hf)), RULES, warned)
        warned = decode_warned(encode_warned(state.warned))  # as kept on the position
        announced.append(len(state.new))
    # 1.15 warns; 1.14, 1.12, and 1.16 (above the level but inside the band), 1.15 again: silent; recovered at
    # the clear level; the next crossing warns again
    assert announced == [0, 1, 0, 0, 0, 0, 0, 1]


def test_an_unreadable_check_keeps_its_state_and_a_new_check_warns_on_its_own() -> None:
    first = assess_warnings(RiskReadings(health_factor=Decimal("1.12")), RULES, NONE)
    blind = assess_warnings(RiskReadings(), RULES, first.warned)
    assert blind.warned == first.warned and blind.new == ()
    both = assess_warnings(RiskReadings(health_factor=Decimal("1.12"), margin_ratio=Decimal("0.45")), RULES,
                           blind.warned)
    assert [w.check for w in both.new] == [ExitReason.MARGIN_RATIO]
    assert both.warned == {"health_factor", "margin_ratio"}


def test_the_stored_form_round_trips() -> None:
    assert encode_warned(NONE) is None and decode_warned(None) == NONE
    assert decode_warned(encode_warned(frozenset({"depeg", "health_factor"}))) == {"depeg", "health_factor"}
