"""Funding per position: Hyperliquid pays the account; each hourly payment is split by each position's size in that
hour, and the parts add up to the payment to the cent (dnbot.domain.pnl.split_by_size)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnbot.domain.pnl import CENT, split_by_size

D = Decimal
payments = st.decimals(min_value=D("-10000"), max_value=D("10000"), places=6, allow_nan=False, allow_infinity=False)
sizes = st.dictionaries(st.text(alphabet="abcdefgh", min_size=1, max_size=4),
                        st.decimals(min_value=D("0"), max_value=D("5000"), places=2, allow_nan=False,
                                    allow_infinity=False), min_size=1, max_size=8)


@given(payments, sizes)
def test_the_parts_sum_to_the_payment_to_the_cent(payment: Decimal, held: dict[str, Decimal]) -> None:
    if not any(size > 0 for size in held.values()):
        with pytest.raises(ValueError):
            split_by_size(payment, held)
        return
    parts = split_by_size(payment, held)
    assert set(parts) == set(held)
    assert sum(parts.values()) == payment.quantize(CENT)
    whole = sum(size for size in held.values() if size > 0)
    for key, part in parts.items():
        assert part == part.quantize(CENT)
        exact = payment.quantize(CENT) * max(held[key], D(0)) / whole
        assert abs(part - exact) < CENT  # never more than one cent from its exact share
        if held[key] <= 0:
            assert part == 0


@given(payments, st.decimals(min_value=D("0.01"), max_value=D("500"), places=2),
       st.decimals(min_value=D("0.01"), max_value=D("500"), places=2))
def test_two_positions_split_one_payment_the_same_way_whoever_asks(payment: Decimal, a: Decimal, b: Decimal) -> None:
    first = split_by_size(payment, {"a": a, "b": b}, quantum=D("0.000001"))
    second = split_by_size(payment, {"b": b, "a": a}, quantum=D("0.000001"))
    assert first == second
    assert first["a"] + first["b"] == payment.quantize(D("0.000001"))


def test_an_even_split_and_a_lone_holder() -> None:
    assert split_by_size(D("1.00"), {"a": D(1), "b": D(1)}) == {"a": D("0.50"), "b": D("0.50")}
    assert split_by_size(D("0.01"), {"a": D(1), "b": D(1)}) == {"a": D("0.01"), "b": D("0.00")}
    assert split_by_size(D("-3.07"), {"a": D("5.1"), "b": D(0)}) == {"a": D("-3.07"), "b": D(0)}
