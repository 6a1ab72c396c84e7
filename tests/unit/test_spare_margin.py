"""What a Hyperliquid withdrawal may take while a position is open (dnbot.domain.rebalance.spare_margin_usd): the
account value above what keeps the cross-margin short the target distance from liquidation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnbot.domain.rebalance import maintenance_rate_from, short_rise, spare_margin_usd

D = Decimal
MMR = D("0.025")  # Hyperliquid SOL: half the initial margin at its 20x max leverage


def test_a_3x_position_keeps_its_distance_at_the_open() -> None:
    # $10k at 3x: ~$14k short (100 SOL at $140) on a $5k account; the long's distance at the open is 16.6%
    spare = spare_margin_usd(D(5000), D(100), D(140), MMR, D("0.166"))
    assert spare == D("2267.9")  # 5000 - ((1.166)(1.025) - 1) x 140 x 100 = 5000 - 2732.1
    assert short_rise(D(5000) - spare, D(100), D(140), MMR) == pytest.approx(D("0.166"), abs=D("1e-20"))
    # the venue's withdrawable (everything above 10x initial margin: 5000 - 1400) would have left it 8% away
    assert short_rise(D(5000) - D(3600), D(100), D(140), MMR).quantize(D("0.001")) == D("0.073")
    assert short_rise(D(1500), D(100), D(140), MMR).quantize(D("0.001")) == D("0.080")


def test_nothing_is_spare_when_the_short_is_already_nearer() -> None:
    assert spare_margin_usd(D(1000), D(100), D(140), MMR, D("0.3")) == 0
    assert short_rise(D(1000), D(100), D(140), MMR) < D("0.3")


def test_without_a_short_the_whole_value_is_spare() -> None:
    assert spare_margin_usd(D("812.5"), D(0), D(140), MMR, D("0.3")) == D("812.5")
    assert spare_margin_usd(D(-3), D(0), D(140), MMR, D("0.3")) == 0


def test_the_maintenance_rate_read_back_from_the_venue_gives_the_same_spare() -> None:
    liquidation = (D(5000) + D(100) * D(140)) / (D(100) * (1 + MMR))  # what the venue reports
    rate = maintenance_rate_from(D(5000), D(100), D(140), liquidation)
    assert spare_margin_usd(D(5000), D(100), D(140), rate, D("0.3")).quantize(D("0.01")) == D("345.00")  # 5000 - 4655


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        spare_margin_usd(D(5000), D(100), D(140), MMR, D("-0.1"))
    with pytest.raises(ValueError):
        spare_margin_usd(D(5000), D(100), D(0), MMR, D("0.1"))


money = st.decimals(min_value=D(0), max_value=D(1_000_000), places=2)


@given(account_value=money, short=st.decimals(min_value=D("0.01"), max_value=D(100_000), places=2),
       price=st.decimals(min_value=D(1), max_value=D(1000), places=3),
       rate=st.decimals(min_value=D(0), max_value=D("0.1"), places=4),
       distance=st.decimals(min_value=D("0.01"), max_value=D("0.99"), places=3))
def test_withdrawing_the_spare_leaves_the_short_exactly_at_the_distance(account_value: Decimal, short: Decimal,
                                                                       price: Decimal, rate: Decimal,
                                                                       distance: Decimal) -> None:
    spare = spare_margin_usd(account_value, short, price, rate, distance)
    assert 0 <= spare <= account_value
    rise_before = short_rise(account_value, short, price, rate)
    if spare > 0:
        assert short_rise(account_value - spare, short, price, rate) == pytest.approx(distance, abs=D("1e-18"))
        assert rise_before > distance
    else:
        assert rise_before <= distance + D("1e-18")
