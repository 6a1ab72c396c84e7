"""A position's risk readings from the venues' raw numbers (dnbot.domain.position_risk): pure, so each figure is
checked here on worked examples and properties, without a venue (the reader's wiring: tests/contract/risk)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.position_risk import (
    equity_at_open_usd,
    known_sum,
    legs_equity_usd,
    liquidation_distance_at_open,
    lst_depeg_since_open,
    peak_equity_usd,
)
from dnbot.domain.positions import Leg, Position, PositionStatus
from dnbot.domain.rebalance import long_drop
from tests.unit.fakes import Long

D = Decimal
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _position(asset: Asset = Asset.JITOSOL, *, leverage: Decimal = D(3), long_entry: Decimal = D("172.5"),
              short_entry: Decimal = D(150), short_size: Decimal = D(10)) -> Position:
    """A 3x long of 3000 USD notional (1000 collateral, 1.5 fees) hedged by a short of `short_size` SOL."""
    long_leg = Leg("asgard", D(3000) / long_entry, long_entry, D(3000), D("1.5"), "pda")
    short_leg = Leg("hyperliquid", short_size, short_entry, short_size * short_entry, D("0.5"), "oid")
    return Position("p1", "u1", asset, Protocol.KAMINO, leverage, D(3000), PositionStatus.OPEN, NOW, NOW,
                    long_leg=long_leg, short_leg=short_leg)


def test_an_unknown_part_makes_the_sum_unknown() -> None:
    assert known_sum(D(1), D(2)) == D(3)
    assert known_sum(None, D(2)) is None and known_sum(D(1), None) is None


def test_depeg_is_the_lst_rate_now_against_its_rate_at_the_open() -> None:
    # bought at 172.5 against SOL sold at 150: 1.15 SOL per jitoSOL; now Asgard prices it at 167.325 with SOL 150
    position = _position()
    long = Long(value_usd=D("1673.25"), debt_usdc=D(2000), size=D(10))
    assert lst_depeg_since_open(position, long, D(150)) == D("0.03")
    assert lst_depeg_since_open(position, Long(D("1800"), D(2000), D(10)), D(150)) == 0  # above: no depeg
    assert lst_depeg_since_open(replace(position, asset=Asset.SOL), None, None) == 0  # SOL cannot depeg
    assert lst_depeg_since_open(position, None, D(150)) is None
    assert lst_depeg_since_open(position, long, None) is None
    assert lst_depeg_since_open(replace(position, short_leg=None), long, D(150)) is None


def test_legs_equity_is_the_long_net_of_debt_plus_the_short_pnl() -> None:
    position = _position()
    long = Long(value_usd=D(3000), debt_usdc=D(2000), size=D(17))
    assert legs_equity_usd(position, long, D(140)) == D(1000) + D(10) * D(10)  # SOL down 10: the short gains 100
    assert legs_equity_usd(position, long, D(160)) == D(1000) - D(100)
    assert legs_equity_usd(position, None, D(140)) is None
    assert legs_equity_usd(position, long, None) is None
    assert legs_equity_usd(replace(position, short_leg=None), long, D(140)) is None


def test_peak_is_never_below_the_equity_at_the_open() -> None:
    position = _position()
    # the leg holds 3000 bought after Asgard's 1.5 open fee: it was opened with (3000 + 1.5) / 3 of collateral
    assert equity_at_open_usd(position) == D("1000.5") - D("1.5")
    assert equity_at_open_usd(replace(position, rebalance_collateral_usd=D(50))) == D("1049")
    assert peak_equity_usd(position) == D("999")
    assert peak_equity_usd(replace(position, peak_equity_usd=D(1200))) == D(1200)
    assert peak_equity_usd(replace(position, peak_equity_usd=D(900))) == D("999")
    assert equity_at_open_usd(replace(position, long_leg=None)) is None
    assert peak_equity_usd(replace(position, long_leg=None)) is None
    assert peak_equity_usd(replace(position, long_leg=None, peak_equity_usd=D(7))) == D(7)


def test_distance_at_open_is_the_nearer_liquidation_of_the_two_legs() -> None:
    position = _position()
    # the venue's reading now: value 3000, debt 2000, drop 0.3 -> threshold 2000 / 2100; at the open the long
    # was 3000 with 2000 debt, so the same drop
    long = Long(value_usd=D(3000), debt_usdc=D(2000), size=D(17), drop_to_liquidation=D("0.3"))
    long_distance = long_drop(D(3000), D(2000), D(2000) / D(2100))
    assert long_distance == pytest.approx(D("0.3"))
    assert liquidation_distance_at_open(position, long, D(210)) == pytest.approx(D("0.3"))  # short: +40 %
    assert liquidation_distance_at_open(position, long, D(180)) == D("0.2")  # short: +20 %, the nearer
    assert liquidation_distance_at_open(position, None, D(180)) == D("0.2")
    assert liquidation_distance_at_open(position, long, None) == long_distance
    assert liquidation_distance_at_open(replace(position, leverage=D(1)), None, None) is None


positive = st.decimals(min_value=D("0.01"), max_value=D(1_000_000), places=2)
fraction = st.decimals(min_value=D(0), max_value=D("0.99"), places=4)


@given(value=positive, debt=positive, drop=fraction, leverage=st.decimals(min_value=D("1.01"), max_value=D(10),
                                                                             places=2),
       liquidation_price=st.one_of(st.none(), st.decimals(min_value=D(0), max_value=D(10_000), places=2)),
       short_entry=positive)
def test_distance_at_open_is_never_negative_nor_above_one(value: Decimal, debt: Decimal, drop: Decimal,
                                                          leverage: Decimal, liquidation_price: Decimal | None,
                                                          short_entry: Decimal) -> None:
    position = _position(leverage=leverage, short_entry=short_entry)
    distance = liquidation_distance_at_open(position, Long(value, debt, D(1), drop), liquidation_price)
    if liquidation_price is None:  # the long alone: a SOL drop, a fraction of the price
        assert distance is not None and D(0) <= distance <= D(1)
    else:
        assert distance is not None and distance >= 0


@given(value=positive, size=positive, sol_price=positive, long_entry=positive, short_entry=positive)
def test_depeg_is_never_negative(value: Decimal, size: Decimal, sol_price: Decimal, long_entry: Decimal,
                                 short_entry: Decimal) -> None:
    depeg = lst_depeg_since_open(_position(long_entry=long_entry, short_entry=short_entry),
                                 Long(value, D(0), size), sol_price)
    assert depeg is not None and D(0) <= depeg < D(1)


@given(oracle=positive, move=positive, short_size=positive)
def test_a_sol_rise_lowers_the_hedged_equity_by_the_short_size(oracle: Decimal, move: Decimal,
                                                               short_size: Decimal) -> None:
    position, long = _position(short_size=short_size), Long(D(3000), D(2000), D(17))
    before, after = legs_equity_usd(position, long, oracle), legs_equity_usd(position, long, oracle + move)
    assert before is not None and after is not None and before - after == short_size * move
