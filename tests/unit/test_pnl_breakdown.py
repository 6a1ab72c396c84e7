"""PnL by source of an open and a closed position: the parts sum to the total to the cent, and each source is
where the money came from."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from dnbot.domain.pnl import CENT, PnlBreakdown
from dnbot.domain.pnl_breakdown import (
    CarryRates,
    LegFill,
    accrued_usd,
    long_price_now,
    realized,
    unrealized,
    unrealized_at_venues,
)

D = Decimal
money = st.decimals(min_value=D("-5000"), max_value=D("5000"), places=6, allow_nan=False, allow_infinity=False)
price = st.decimals(min_value=D("20"), max_value=D("500"), places=4, allow_nan=False, allow_infinity=False)
size = st.decimals(min_value=D("0.01"), max_value=D("500"), places=4, allow_nan=False, allow_infinity=False)
apy = st.decimals(min_value=D("0"), max_value=D("0.5"), places=4, allow_nan=False, allow_infinity=False)
hours = st.decimals(min_value=D("0"), max_value=D("5000"), places=2, allow_nan=False, allow_infinity=False)


def _parts_sum(breakdown: object) -> Decimal:
    return sum(breakdown.as_dict().values(), D(0))  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(long_size=size, long_entry=price, short_size=size, short_entry=price, long_now=price, mark_now=price,
       funding=money, fees=st.decimals(min_value=D("0"), max_value=D("50"), places=4), debt=money, held=hours,
       staking=apy, supply=apy, borrow=apy)
def test_unrealized_parts_sum_to_the_total_in_cents(long_size: Decimal, long_entry: Decimal, short_size: Decimal,
                                                    short_entry: Decimal, long_now: Decimal, mark_now: Decimal,
                                                    funding: Decimal, fees: Decimal, debt: Decimal, held: Decimal,
                                                    staking: Decimal, supply: Decimal, borrow: Decimal) -> None:
    pnl = unrealized(long=LegFill(long_size, long_entry, fees), short=LegFill(short_size, short_entry, fees / 2),
                     long_price_now_usd=long_now, short_mark_now_usd=mark_now, funding_usd=funding,
                     debt_usd=debt, hours_held=held, rates=CarryRates(staking, supply, borrow))
    assert _parts_sum(pnl) == pnl.total
    for value in pnl.as_dict().values():
        assert value == value.quantize(CENT)
    exact_total = (long_size * (long_now - long_entry) + short_size * (short_entry - mark_now) + funding
                   - fees - fees / 2 + accrued_usd(long_size * long_entry, staking + supply, held)
                   - accrued_usd(max(debt, D(0)), borrow, held))
    assert abs(pnl.total - exact_total) <= CENT
    assert pnl.fees <= 0 and pnl.borrow <= 0


@settings(max_examples=300, deadline=None)
@given(total=money, funding=money, fees=st.decimals(min_value=D("0"), max_value=D("50"), places=4), debt=money,
       value=st.decimals(min_value=D("0"), max_value=D("50000"), places=2), held=hours, staking=apy, supply=apy,
       borrow=apy)
def test_realized_parts_sum_to_the_recorded_total(total: Decimal, funding: Decimal, fees: Decimal, debt: Decimal,
                                                  value: Decimal, held: Decimal, staking: Decimal, supply: Decimal,
                                                  borrow: Decimal) -> None:
    pnl = realized(total_usd=total, funding_usd=funding, fees_usd=fees, debt_usd=debt,
                   long_value_at_entry_usd=value, hours_held=held, rates=CarryRates(staking, supply, borrow))
    assert pnl.total == total.quantize(CENT)
    assert _parts_sum(pnl) == pnl.total


def test_a_delta_neutral_sol_position_earns_funding_and_carry_not_price() -> None:
    # $1,500 long of 10 SOL at $150 (collateral $500, debt $1,000), 10 SOL short at $150; SOL moves to $160.
    pnl = unrealized(long=LegFill(D(10), D(150), D("0.75")), short=LegFill(D(10), D(150), D("0.675")),
                     long_price_now_usd=D(160), short_mark_now_usd=D(160), funding_usd=D("4.20"),
                     debt_usd=D(1000), hours_held=D(8760), rates=CarryRates(D(0), D("0.02"), D("0.08")))
    assert pnl.price == 0
    assert pnl.funding == D("4.20")
    assert pnl.lending == D("30.00")  # 2 % of $1,500 for a year
    assert pnl.borrow == D("-80.00")  # 8 % of $1,000 for a year
    assert pnl.fees == D("-1.42")  # 0.75 + 0.675 = 1.425, rounded half-even like the total (-47.225)
    assert pnl.total == D("-47.22")
    assert _parts_sum(pnl) == pnl.total


def test_an_lst_moves_with_sol_so_its_staking_is_not_counted_twice() -> None:
    long = LegFill(D(8), D("187.5"))  # jitoSOL at 1.25 SOL, SOL at $150
    now = long_price_now(long, short_entry_sol_usd=D(150), sol_now_usd=D(120), is_lst=True)
    assert now == D(150)  # still 1.25 SOL each
    pnl = unrealized(long=long, short=LegFill(D(10), D(150)), long_price_now_usd=now, short_mark_now_usd=D(120),
                     funding_usd=D(0), debt_usd=D(1000), hours_held=D(24), rates=CarryRates(D("0.07")))
    assert pnl.price == 0  # 8 x -37.5 on the long, +300 on the short
    assert pnl.staking == (D(1500) * D("0.07") * 24 / 8760).quantize(CENT)


def test_a_part_under_half_a_cent_below_zero_reads_zero_not_minus_zero() -> None:
    parts = PnlBreakdown(borrow=Decimal("-0.001"), fees=Decimal("-0.95")).to_cents().as_strings()
    assert parts["borrow"] == "0.00" and parts["fees"] == "-0.95"


@settings(max_examples=200, deadline=None)
@given(value=st.decimals(min_value=D("100"), max_value=D("30000"), places=6), debt=st.decimals(
    min_value=D("0"), max_value=D("20000"), places=6), mark=price, funding=money, cash=money, held=hours)
def test_measured_unrealized_is_what_a_close_now_would_realize_before_its_fees(
        value: Decimal, debt: Decimal, mark: Decimal, funding: Decimal, cash: Decimal, held: Decimal) -> None:
    """The total is mark_closed's formula with the long's equity at Asgard and the short at Hyperliquid's mark; the
    measured parts are the venues' (funding, the open's fees), the price part is what the total leaves."""
    long, short = LegFill(D(60), D(150), D("6.75")), LegFill(D("59.9"), D("150.02"), D("4.05"))
    pnl = unrealized_at_venues(long_value_usd=value, long_debt_usd=debt, long_collateral_usd=D(3002.25), long=long,
                               short=short, short_price_now_usd=mark, funding_usd=funding, rebalanced_cash_usd=cash,
                               debt_at_open_usd=D(6000), hours_held=held,
                               rates=CarryRates(D("0.07"), D("0.03"), D("0.09")))
    total = value - debt - D(3002.25) + cash + D("59.9") * (D("150.02") - mark) - D("4.05") + funding
    assert pnl.total == total.quantize(CENT) == _parts_sum(pnl)
    assert pnl.funding == funding.quantize(CENT) and pnl.fees == D("-10.80")
