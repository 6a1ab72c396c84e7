"""domain.lst_peg: an LST's market rate at Asgard against its fair rate, before an open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.lst_peg import (
    PegQuote,
    depeg_refusal,
    depegged_lsts,
    fair_lst_sol_rate,
    fair_lst_sol_rates,
    lst_peg,
    peg_quotes,
)
from dnbot.domain.rates import FundingQuote, LendingMarket, RatesSnapshot

D = Decimal
T0 = datetime(2026, 3, 1, tzinfo=UTC)
SOL_USD = D(200)


def snapshot(at: datetime, jito_rate: D | None, staking_apy: D = D("0.0876")) -> RatesSnapshot:
    price = None if jito_rate is None else jito_rate * SOL_USD
    return RatesSnapshot(
        at=at, source="test", sol_price_usd=SOL_USD,
        funding=FundingQuote(D("0.00001"), None, SOL_USD, SOL_USD),
        markets=(LendingMarket(Asset.SOL, Protocol.KAMINO, D("0.05"), D("0.08"), D(0), price_usd=SOL_USD),
                 LendingMarket(Asset.JITOSOL, Protocol.KAMINO, D(0), D("0.08"), staking_apy, price_usd=price),
                 LendingMarket(Asset.JITOSOL, Protocol.MARGINFI, D(0), D("0.08"), staking_apy, price_usd=price)))


def quotes(*snapshots: RatesSnapshot) -> list[PegQuote]:
    return [quote for s in snapshots for quote in peg_quotes(s)]


def test_the_fair_rate_is_the_best_past_rate_grown_by_the_staking_apy() -> None:
    week = quotes(snapshot(T0, D("1.2")), snapshot(T0 + timedelta(hours=1), D("1.21")),
                  snapshot(T0 + timedelta(hours=2), D("1.1")))  # a discounted hour does not lower it
    assert [q.sol_rate for q in week] == [D("1.2"), D("1.21"), D("1.1")]  # one quote per LST, not per market
    fair = fair_lst_sol_rate(Asset.JITOSOL, week, T0 + timedelta(hours=100))
    # 8.76 %/yr is 0.001 % an hour: the best rate (hour 1) grown over the 99 hours since
    assert fair == D("1.21") * (1 + D("0.0876") * 99 / 8760)


def test_a_discount_over_the_limit_refuses_the_open_with_the_figures() -> None:
    history = quotes(*(snapshot(T0 + timedelta(hours=h), D("1.2")) for h in range(24)))
    now = T0 + timedelta(hours=24)
    fair = fair_lst_sol_rates(history, now)
    assert set(fair) == {Asset.JITOSOL}
    reading = lst_peg(Asset.JITOSOL, snapshot(now, D("1.2") * D("0.97")), fair[Asset.JITOSOL])
    assert reading is not None and D("0.0302") < reading.depeg < D("0.0303")  # 3 % and a day of staking
    reason = depeg_refusal(reading, D("0.02"))
    assert reason is not None
    assert reason.startswith("jitoSOL trades 3.02% below its fair SOL value (Asgard 1.164000 SOL against 1.200288)")
    assert "over the 2.00% depeg limit" in reason
    assert depeg_refusal(reading, D("0.035")) is None  # a looser preset lets it through


def test_nothing_to_compare_lets_the_open_through() -> None:
    now = T0 + timedelta(hours=5)
    assert lst_peg(Asset.SOL, snapshot(now, D("1.2")), D("1.2")) is None  # SOL has no peg
    assert lst_peg(Asset.JITOSOL, snapshot(now, None), D("1.2")) is None  # no price now
    assert quotes(snapshot(T0, None)) == []  # an hour without Asgard's price is no reference
    # no history: the latest rate is its own anchor, so no depeg can be read
    alone = lst_peg(Asset.JITOSOL, snapshot(now, D("1.1")), fair_lst_sol_rates(quotes(snapshot(T0, None)), now).get(
        Asset.JITOSOL))
    assert alone is not None and alone.depeg == 0
    assert depeg_refusal(None, D("0.01")) is None


def test_depegged_lsts_names_each_lst_past_the_limit_with_the_preflight_reason() -> None:
    now = T0 + timedelta(hours=2)
    fair = fair_lst_sol_rates(quotes(snapshot(T0, D("1.2"))), now)
    depegged = snapshot(now, D("1.2") * D("0.97"))
    refused = depegged_lsts(depegged, fair, D("0.02"))
    assert list(refused) == [Asset.JITOSOL]  # SOL is never left out
    assert refused[Asset.JITOSOL] == depeg_refusal(lst_peg(Asset.JITOSOL, depegged, fair[Asset.JITOSOL]), D("0.02"))
    assert depegged_lsts(depegged, fair, D("0.05")) == {}  # within a looser limit
    assert depegged_lsts(snapshot(now, D("1.2")), fair, D("0.02")) == {}  # healthy
    assert depegged_lsts(depegged, {}, D("0.02")) == {}  # no reference: nothing to compare
