"""Sizing (equal notional, lots, minimum, buffer), fill validation, price consensus, PnL attribution."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnbot.domain.fills import price_consensus, validate_fills
from dnbot.domain.pnl import PnlBreakdown
from dnbot.domain.sizing import SizingError, round_price, round_size, size_position

D = Decimal


def test_sizing_splits_capital_equally_with_equal_notional() -> None:
    sized = size_position(D(10_000), D(3), D(150), max_position_usd=D(100_000))
    assert sized.short_size == D("100.00")
    assert sized.notional_usd == D("15000.00")
    assert sized.collateral_usd == sized.margin_usd == D(5000)
    assert sized.debt_usd == D(10_000)
    assert sized.long_size == sized.short_size


def test_sizing_caps_at_the_max_position_and_keeps_a_margin_buffer() -> None:
    sized = size_position(D(50_000), D(2), D(100), max_position_usd=D(10_000), margin_buffer=D("0.1"))
    assert sized.notional_usd == D(9000)  # 10000 - 10% buffer, x 2 / 2
    assert sized.margin_usd == sized.collateral_usd + D(1000)
    assert sized.capital_usd == D(10_000)


def test_hyperliquid_minimum_and_lots() -> None:
    with pytest.raises(SizingError, match=r"\$10"):
        size_position(D(6), D(3), D(150), max_position_usd=D(100))
    assert round_size(D("1.239")) == D("1.23")  # down: never over-hedge
    assert round_price(D("187.12345")) == D("187.12")  # 5 significant figures
    assert round_price(D("0.0123456")) == D("0.0123")  # at most 6 - szDecimals(2) = 4 decimals
    assert round_price(D("123456")) == D("123456")  # integers are always valid
    assert round_price(D("12.34567")) == D("12.346")


@given(capital=st.decimals(min_value=D(50), max_value=D(1_000_000), places=2),
       price=st.decimals(min_value=D(5), max_value=D(1000), places=3),
       leverage=st.sampled_from([D(2), D("2.5"), D(3), D(4)]),
       buffer=st.sampled_from([D(0), D("0.03"), D("0.1")]))
def test_sizing_keeps_delta_within_tolerance(capital: Decimal, price: Decimal, leverage: Decimal,
                                             buffer: Decimal) -> None:
    try:
        sized = size_position(capital, leverage, price, max_position_usd=D(250_000), margin_buffer=buffer)
    except SizingError:
        assert capital * leverage / 2 < D(10) + price  # only tiny positions fail the $10 minimum
        return
    check = validate_fills(sized.long_size, sized.short_size)
    assert check.within_tolerance
    assert sized.notional_usd <= min(capital, D(250_000)) * leverage / 2
    assert sized.collateral_usd + sized.margin_usd <= min(capital, D(250_000))
    assert sized.notional_usd >= D(10)


def test_fill_validator_boundary_and_adjustment() -> None:
    ok = validate_fills(D(100), D("99.5"), tolerance=D("0.005"))
    assert ok.within_tolerance and ok.short_adjustment == 0
    off = validate_fills(D(100), D("99.49"), tolerance=D("0.005"))
    assert not off.within_tolerance and off.short_adjustment == D("0.51")
    over = validate_fills(D(100), D(101), tolerance=D("0.005"))
    assert over.short_adjustment == D(-1)
    # an LST long counts in SOL through its rate
    lst = validate_fills(D(100), D(110), lst_sol_rate=D("1.1"))
    assert lst.within_tolerance and lst.delta_sol == 0


def test_price_consensus() -> None:
    agreed = price_consensus([("hyperliquid", D(150)), ("asgard", D("150.5"))], D("0.005"))
    assert agreed.agreed and agreed.mid_usd == D("150.25")
    assert not price_consensus([("hyperliquid", D(150)), ("asgard", D(152))], D("0.005")).agreed
    with pytest.raises(ValueError):
        price_consensus([("one", D(1))])


money = st.decimals(min_value=D(-100_000), max_value=D(100_000), places=9)


@given(parts=st.tuples(money, money, money, money, money, money))
def test_attribution_parts_sum_to_the_total_to_the_cent(parts: tuple[Decimal, ...]) -> None:
    exact = PnlBreakdown(*parts)
    cents = exact.to_cents()
    assert cents.total == exact.total.quantize(D("0.01"))
    for name, value in cents.as_dict().items():
        assert value == value.quantize(D("0.01"))
        assert abs(value - getattr(exact, name)) < D("0.02")


def test_attribution_adds() -> None:
    total = PnlBreakdown(funding=D(1)) + PnlBreakdown(fees=D(-2), price=D("0.5"))
    assert total.total == D("-0.5")
    assert total.add(funding=D(1)).funding == D(2)


def test_realized_attribution_for_the_close_workflow() -> None:
    from dnbot.domain.pnl import attribute_realized, staking_usd_from_rate

    staking = staking_usd_from_rate(D(100), D("1.0800"), D("1.0815"), D(150))
    assert staking == D("22.5000000")
    split = attribute_realized(total_usd=D("41.237"), funding_usd=D("35.50"), fees_usd=D("12.004"),
                               borrow_interest_usd=D("9.9"), supply_interest_usd=D("1.111"), staking_usd=staking)
    assert split.total == D("41.24")
    assert (split.funding, split.fees, split.borrow, split.staking) == (D("35.50"), D("-12.00"), D("-9.90"),
                                                                        D("22.50"))
    assert split.price == D("41.24") - D("35.50") + D("12.00") + D("9.90") - D("1.11") - D("22.50")


@given(parts=st.tuples(money, money, money, money, money, money))
def test_realized_attribution_always_sums_to_the_total(parts: tuple[Decimal, ...]) -> None:
    from dnbot.domain.pnl import attribute_realized

    total, funding, fees, borrow, supply, staking = parts
    split = attribute_realized(total_usd=total, funding_usd=funding, fees_usd=fees, borrow_interest_usd=borrow,
                               supply_interest_usd=supply, staking_usd=staking)
    assert split.total == total.quantize(D("0.01"))
    assert split.fees <= 0 and split.borrow <= 0


def test_rounding_residue_never_lands_on_a_fixed_part() -> None:
    """Funding is what the venue paid: its cents stay its own rounding; the residue goes to another part."""
    from dnbot.domain.pnl import PnlBreakdown

    exact = PnlBreakdown(funding=Decimal("0.045"), staking=Decimal(0), lending=Decimal("0.004"),
                         borrow=Decimal("-0.004"), fees=Decimal("-0.47"), price=Decimal("0.004"))
    free = exact.to_cents(target=Decimal("-0.41"))
    kept = exact.to_cents(target=Decimal("-0.41"), fixed=("funding",))
    assert sum(kept.as_dict().values()) == sum(free.as_dict().values()) == Decimal("-0.41")
    assert kept.funding == Decimal("0.04") and free.funding != kept.funding
