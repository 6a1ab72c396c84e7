"""The carry formula of ARCHITECTURE.md, its funding sign and its hourly interval, pinned."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.carry import (
    DEFAULT_FEES,
    HYPERLIQUID_TAKER_FEE_RATE,
    CarryComponents,
    FeeSchedule,
    carry_components,
    carry_outlook,
    expected_market,
    fee_drag_apy,
    mean_markets,
    net_apy,
    notional_for_capital,
)
from dnbot.domain.rates import LendingMarket

D = Decimal


def market(staking: str = "0", supply: str = "0", borrow: str = "0", asset: Asset = Asset.JITOSOL) -> LendingMarket:
    return LendingMarket(asset, Protocol.KAMINO, supply_apy=D(supply), usdc_borrow_apy=D(borrow),
                         staking_apy=D(staking))


def test_positive_funding_is_earned_by_the_short() -> None:
    # Hyperliquid: a POSITIVE rate means longs pay shorts; the bot is short the perp, so it earns.
    assert carry_components(market(), D("0.0000125"), D(3)).funding > 0
    assert carry_components(market(), D("-0.0000125"), D(3)).funding < 0


def test_funding_is_hourly_and_annualized_times_8760() -> None:
    # 0.00125%/hour (Hyperliquid's baseline) is 10.95%/yr on the short's notional, NOT 8-hourly (x 1095).
    components = carry_components(market(), D("0.0000125"), D(2))
    # at 2x the short's notional equals the capital (2N/L = N), so the APY on capital is 0.0000125 x 8760
    assert components.funding == D("0.1095")


def test_fixed_point_three_x() -> None:
    # L = 3: notional per capital 1.5, debt per capital 1.0
    c = carry_components(market(staking="0.07", supply="0.01", borrow="0.08"), D("0.00002"), D(3))
    assert c == CarryComponents(staking=D("0.105"), supply=D("0.015"), borrow=D("-0.08"), funding=D("0.26280"))
    assert c.gross == D("0.30280")


def test_fixed_point_four_x_sol() -> None:
    c = carry_components(market(supply="0.05", borrow="0.06", asset=Asset.SOL), D("0.00001"), D(4))
    assert c.staking == 0
    assert c.supply == D("0.10")  # 0.05 x 4/2
    assert c.borrow == D("-0.09")  # 0.06 x (4-1)/2
    assert c.funding == D("0.17520")  # 0.00001 x 8760 x 2


def test_matches_the_per_hour_formula_in_dollars() -> None:
    """carry/hour = N(staking+supply)/8760 - D*borrow/8760 + N*funding_hourly, on capital 2N/L."""
    capital, leverage = D(10_000), D(3)
    n = notional_for_capital(capital, leverage)
    debt = n - n / leverage
    staking, supply, borrow, funding = D("0.065"), D("0.002"), D("0.071"), D("0.0000181")
    per_hour = n * (staking + supply) / 8760 - debt * borrow / 8760 + n * funding
    c = carry_components(market(staking=str(staking), supply=str(supply), borrow=str(borrow)), funding, leverage)
    assert (c.gross * capital / 8760).quantize(D("1e-18")) == per_hour.quantize(D("1e-18"))
    assert n == D(15_000) and debt == D(10_000)


def test_fees_are_amortized_over_the_holding_period() -> None:
    fees = FeeSchedule(hyperliquid_taker_rate=D("0.00045"), asgard_open_rate=D("0.001"), asgard_close_rate=D("0"),
                       swap_slippage_rate=D("0"), jito_tip_usd=D("0"))
    # N = 10000 x 2 / 2 = 10000; round trip = 10000 x (2 x 0.00045 + 0.001) = 19 USD = 0.19% of capital
    assert fees.round_trip_usd(D(10_000)) == D("19.00000")
    drag = fee_drag_apy(fees, D(2), 8760, D(10_000))
    assert drag == D("0.0019")
    c = carry_components(market(staking="0.07"), D(0), D(2))
    assert net_apy(c, fees, D(2), 8760, D(10_000)) == D("0.07") - D("0.0019")
    # the same fees over a tenth of the time cost ten times the APY
    assert fee_drag_apy(fees, D(2), 876, D(10_000)) == D("0.019")


def test_hyperliquid_taker_fee_is_0_045_percent_per_side() -> None:
    assert D("0.00045") == HYPERLIQUID_TAKER_FEE_RATE
    only_taker = FeeSchedule(asgard_open_rate=D(0), asgard_close_rate=D(0), swap_slippage_rate=D(0),
                             jito_tip_usd=D(0))
    assert only_taker.round_trip_usd(D(1000)) == D("0.90000")


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        carry_components(market(), D(0), D("0.5"))
    with pytest.raises(ValueError):
        fee_drag_apy(DEFAULT_FEES, D(3), 0)


rates = st.decimals(min_value=D("-0.04"), max_value=D("0.04"), places=7)
apys = st.decimals(min_value=D(0), max_value=D("0.5"), places=6)
leverages = st.sampled_from([D(2), D("2.5"), D(3), D("3.5"), D(4)])


@given(low=rates, high=rates, staking=apys, borrow=apys, leverage=leverages)
def test_carry_rises_with_funding(low: Decimal, high: Decimal, staking: Decimal, borrow: Decimal,
                                  leverage: Decimal) -> None:
    m = market(staking=str(staking), borrow=str(borrow))
    lo, hi = sorted((low, high))
    assert carry_components(m, lo, leverage).gross <= carry_components(m, hi, leverage).gross
    if lo < hi:
        assert carry_components(m, lo, leverage).gross < carry_components(m, hi, leverage).gross


@given(funding=rates, staking=apys, supply=apys, borrow=apys, leverage=leverages,
       hours=st.integers(min_value=1, max_value=24 * 365))
def test_net_is_gross_minus_a_positive_fee_drag(funding: Decimal, staking: Decimal, supply: Decimal,
                                                borrow: Decimal, leverage: Decimal, hours: int) -> None:
    c = carry_components(market(staking=str(staking), supply=str(supply), borrow=str(borrow)), funding, leverage)
    assert c.gross == c.staking + c.supply + c.borrow + c.funding
    assert c.borrow <= 0
    assert net_apy(c, DEFAULT_FEES, leverage, hours) < c.gross


# --- the outlook: horizon and funding from the past only ----------------------------------------------------

GOOD = D("0.0000125")  # Hyperliquid's resting rate: 10.95%/yr
BAD = D("-0.0001")


def test_the_horizon_starts_from_the_long_run_rate_and_no_episode_lengthens_it() -> None:
    # the prior: one carry-off episode per 655 h (the training span's rate), worth 720 h of evidence
    assert carry_outlook([GOOD], lookback_hours=1440).horizon_hours == 655  # a fresh start: the long-run rate
    outlook = carry_outlook([GOOD] * 500, lookback_hours=240)
    assert (outlook.lookback_hours, outlook.carry_off_episodes) == (240, 0)
    assert outlook.horizon_hours == 873  # (720 + 240) h / (720 / 655) episodes
    assert carry_outlook([GOOD] * 1500, lookback_hours=1440).horizon_hours == 1965  # 60 quiet days
    assert outlook.expected_funding_hourly == GOOD and outlook.recent_funding_hourly == GOOD
    assert carry_outlook([], lookback_hours=1440).horizon_hours == 0  # nothing recorded: nothing to count on


def test_each_two_day_negative_spell_shortens_the_horizon() -> None:
    # two spells of 30 negative hours (their day means stay negative for 30 + 21 hours: more than two days)
    history = [GOOD] * 100 + [BAD] * 30 + [GOOD] * 200 + [BAD] * 30 + [GOOD] * 200
    outlook = carry_outlook(history, lookback_hours=537)
    assert (outlook.lookback_hours, outlook.carry_off_episodes) == (537, 2)
    assert outlook.horizon_hours == 405  # (720 + 537) h / (720 / 655 + 2) episodes
    # a short dip is not an episode
    dip = carry_outlook([GOOD] * 300 + [BAD] * 4 + [GOOD] * 300, lookback_hours=480)
    assert dip.carry_off_episodes == 0 and dip.horizon_hours == 1091


def test_a_negative_day_that_the_bot_stays_through_does_not_end_the_carry() -> None:
    # 20 bad hours keep the day mean negative for 39 hours: an episode when a day counted, not now (the bot
    # leaves only when a spell costs a round trip, so such a day does not end its position)
    history = [GOOD] * 300 + [BAD] * 20 + [GOOD] * 300
    assert carry_outlook(history, lookback_hours=480, min_episode_hours=24).carry_off_episodes == 1
    assert carry_outlook(history, lookback_hours=480).carry_off_episodes == 0
    assert carry_outlook(history, lookback_hours=480).negative_spell_hours == 39  # the exit still sees it


def test_the_entry_funding_ignores_a_spike_and_remembers_the_last_three_days() -> None:
    spike = carry_outlook([GOOD] * 400 + [D("0.01")], lookback_hours=240)
    assert spike.expected_funding_hourly == GOOD  # the day's median
    crash = carry_outlook([GOOD] * 300 + [BAD] * 30 + [GOOD] * 30, lookback_hours=240)
    assert crash.expected_funding_hourly < 0  # the last 72 hours' mean still carries the crash
    assert crash.recent_funding_hourly == GOOD  # the last six hours are back to normal
    over = carry_outlook([GOOD] * 300 + [BAD] * 30 + [GOOD] * 72, lookback_hours=240)
    assert over.expected_funding_hourly == GOOD  # three good days later it no longer holds an entry back


def test_mean_markets_and_the_reading_a_decision_counts_on() -> None:
    a = market(staking="0.06", borrow="0.10")
    b = market(staking="0.08", borrow="0.06")
    (mean,) = mean_markets([[a], [b]])
    assert (mean.staking_apy, mean.usdc_borrow_apy) == (D("0.07"), D("0.08"))
    capped = LendingMarket(Asset.JITOSOL, Protocol.KAMINO, D(0), D("0.06"), D("0.08"), max_leverage=D(2),
                           borrow_capacity_usd=D(1000), deposit_capacity_usd=D(2000))
    counted = expected_market(capped, mean)
    assert (counted.staking_apy, counted.usdc_borrow_apy) == (D("0.07"), D("0.08"))  # the mean's rates
    assert (counted.max_leverage, counted.borrow_capacity_usd, counted.deposit_capacity_usd) == (
        D(2), D(1000), D(2000))  # now's limits
    assert expected_market(b, None) is b
