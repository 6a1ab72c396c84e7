"""The in-place rebalance's sizing (dnbot.domain.rebalance): both legs shrink by the same SOL, the delta does not
move, and each leg ends at least the target distance from its liquidation, farther than it was."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given, reject, settings
from hypothesis import strategies as st

from dnbot.domain.rebalance import (
    CannotRebalance,
    LegsNow,
    long_drop,
    maintenance_rate_from,
    short_rise,
    size_rebalance,
)

D = Decimal
MMR = D("0.025")


def legs(*, price: Decimal, long_sol: Decimal, debt: Decimal, account_value: Decimal, short: Decimal,
         lt: Decimal = D("0.8"), position_short: Decimal | None = None) -> LegsNow:
    return LegsNow(long_value_usd=long_sol * price, long_debt_usd=debt, long_liquidation_threshold=lt,
                   long_sol=long_sol, account_value_usd=account_value, account_short_sol=short, maintenance_rate=MMR,
                   sol_price_usd=price, position_short_sol=short if position_short is None else position_short)


def test_sol_rally_drifts_the_short_toward_liquidation_and_the_reduce_restores_it() -> None:
    # opened at $100: 10 SOL long at 2x ($500 debt), 10 SOL short on a $500 cross account. SOL +40%.
    now = legs(price=D(140), long_sol=D(10), debt=D(500), account_value=D(500) - D(10) * D(40), short=D(10))
    assert now.short_rise < D("0.06")
    sized = size_rebalance(now, D("0.3"))
    assert sized.reduce_sol > 0 and sized.reduce_sol % D("0.01") == 0
    assert sized.short_rise_after >= D("0.3")
    assert sized.long_drop_after >= now.long_drop  # the long is no less safe
    # the long's sale ($1,100) is more than its $500 debt: a partial close of the same share of the long
    assert sized.method == "partial_close" and sized.close_percentage == sized.reduce_sol * 10


def test_sol_drop_drifts_the_long_toward_liquidation_and_the_deleverage_restores_it() -> None:
    now = legs(price=D(70), long_sol=D(10), debt=D(500), account_value=D(500) + D(300), short=D(10))
    assert now.long_drop < D("0.11")
    sized = size_rebalance(now, D("0.3"))
    assert sized.long_drop_after >= D("0.3") and sized.short_rise_after >= now.short_rise
    assert sized.method == "deleverage"
    assert D(1) <= sized.target_leverage < now.long_value_usd / (now.long_value_usd - now.long_debt_usd)


def test_nothing_to_do_within_the_target() -> None:
    sized = size_rebalance(legs(price=D(100), long_sol=D(10), debt=D(500), account_value=D(500), short=D(10)),
                           D("0.3"))
    assert sized.reduce_sol == 0


def test_a_reduction_that_takes_the_whole_short_is_a_close() -> None:
    with pytest.raises(CannotRebalance):
        size_rebalance(legs(price=D(190), long_sol=D(10), debt=D(500), account_value=D(0), short=D(10)), D("0.5"))


def test_the_maintenance_rate_comes_back_from_the_venues_liquidation_price() -> None:
    value, short, price = D(300), D(10), D(120)
    liquidation = (value + short * price) / (short * (1 + MMR))
    assert maintenance_rate_from(value, short, price, liquidation) == pytest.approx(MMR, abs=D("1e-20"))
    assert short_rise(value, short, price, MMR) == pytest.approx(liquidation / price - 1)


prices = st.decimals(min_value=D(20), max_value=D(400), places=2)
fractions = st.decimals(min_value=D("0.05"), max_value=D("0.6"), places=3)


@settings(max_examples=300, deadline=None)
@given(open_price=prices, move=st.decimals(min_value=D("-0.5"), max_value=D("1.5"), places=3),
       leverage=st.decimals(min_value=D("1.2"), max_value=D(4), places=2),
       margin_share=st.decimals(min_value=D("0.1"), max_value=D(2), places=2), target=fractions,
       lt=st.decimals(min_value=D("0.8"), max_value=D("0.95"), places=2),
       offset=st.decimals(min_value=D("-0.02"), max_value=D("0.02"), places=3))
def test_any_drift_delta_stays_and_both_legs_move_away_from_liquidation(
        open_price: Decimal, move: Decimal, leverage: Decimal, margin_share: Decimal, target: Decimal,
        lt: Decimal, offset: Decimal) -> None:
    size = D(10)
    notional = size * open_price
    debt = notional * (leverage - 1) / leverage
    price = open_price * (1 + move)
    assume(price > 0)
    short = size * (1 + offset)  # the legs as the open left them: within the fill tolerance
    account_value = notional * margin_share - short * (price - open_price)
    now = legs(price=price, long_sol=size, debt=debt, account_value=account_value, short=short, lt=lt)
    assume(now.long_drop > 0 and account_value > 0)
    try:
        sized = size_rebalance(now, target)
    except CannotRebalance:
        reject()  # counted as filtered: a property every example of which refuses fails hypothesis' health check
    delta_before = now.long_sol - now.position_short_sol
    long_after, short_after = now.long_sol - sized.reduce_sol, now.position_short_sol - sized.reduce_sol
    assert long_after > 0 and short_after > 0
    assert long_after - short_after == delta_before  # the hedge is exactly as it was
    tolerance = D("1e-9")
    assert sized.long_drop_after >= min(target, now.long_drop) - tolerance
    assert sized.short_rise_after >= min(target, now.short_rise) - tolerance
    assert sized.long_drop_after >= now.long_drop - tolerance  # never closer to liquidation
    assert sized.short_rise_after >= now.short_rise - tolerance
    if sized.reduce_sol > 0:
        assert sized.long_drop_after >= target - tolerance and sized.short_rise_after >= target - tolerance
        equity = now.long_value_usd - now.long_debt_usd
        if sized.method == "deleverage":  # the equity stays in the long
            assert sized.target_leverage == (now.long_value_usd - sized.long_reduce_usd) / equity
            assert long_drop(now.long_value_usd - sized.long_reduce_usd,
                             now.long_debt_usd - sized.long_reduce_usd, lt) == sized.long_drop_after
        else:  # a partial close: the long's health and leverage stay, it was already at the target
            assert sized.close_percentage is not None and D(0) < sized.close_percentage < D(100)
            assert now.long_drop >= target
