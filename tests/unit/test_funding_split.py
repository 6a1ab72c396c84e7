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


class PagedInfo:
    """Hyperliquid's info endpoint over one account: fills of two positions, and hourly payments answered at most
    FUNDING_PAGE rows a request (oldest first), as the venue does."""

    coin = "SOL"

    def __init__(self, hours: int) -> None:
        from dnbot.adapters.hyperliquid.positions import cloid_for

        self.hour_ms = 3_600_000
        self.fills = [{"coin": "SOL", "cloid": cloid_for("a", "open"), "sz": "1", "side": "A", "time": 0},
                      {"coin": "SOL", "cloid": cloid_for("b", "open"), "sz": "3", "side": "A", "time": 0}]
        self.payments = [{"time": self.hour_ms * (h + 1),
                          "delta": {"coin": "SOL", "usdc": "0.400001", "szi": "-4", "fundingRate": "0.0001"}}
                         for h in range(hours)]
        self.queries = 0

    def post(self, body: dict[str, object]) -> object:
        if body["type"] == "userFills":
            return self.fills
        self.queries += 1
        start, end = int(str(body["startTime"])), body.get("endTime")
        rows = [p for p in self.payments if int(str(p["time"])) >= start and (end is None or p["time"] <= end)]
        return rows[:500]

    def user_fills(self, address: str, *, reuse: bool = False) -> object:
        return self.post({"type": "userFills", "user": address})


def test_every_hourly_payment_is_split_even_past_one_page_of_the_venue() -> None:
    from datetime import UTC, datetime

    from dnbot.adapters.hyperliquid.positions import funding_shares, position_funding_usd

    info = PagedInfo(hours=1200)  # 50 days: three pages of userFunding
    shares = funding_shares(info, "0xabc", ["a", "b"], datetime.fromtimestamp(0, tz=UTC))
    assert info.queries == 3 and len(shares) == 2 * 1200
    first = [s for s in shares if s.at == shares[0].at]
    assert {s.position_id: s.share_usd for s in first} == {"a": D("0.100000"), "b": D("0.300001")}
    assert all(s.account_usd == D("0.400001") and s.funding_rate_hourly == D("0.0001") for s in shares)
    assert position_funding_usd(info, "0xabc", "a", datetime.fromtimestamp(0, tz=UTC)) == D("0.1") * 1200
    until = datetime.fromtimestamp(info.hour_ms * 10 / 1000, tz=UTC)
    assert len(funding_shares(info, "0xabc", ["b"], datetime.fromtimestamp(0, tz=UTC), until)) == 10
