"""PortfolioService on fakes: a page of positions costs at most one round of venue reads per position per cache
window; an unreadable venue leaves nulls and says since when; history pages and keeps the realized split."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dnbot.api.views import PositionViewOut
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Leg, Position, PositionStatus
from dnbot.domain.risk import RiskReadings
from dnbot.services.errors import ServiceError
from dnbot.services.portfolio import PortfolioService
from tests.unit.fakes import MovableClock

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


@dataclass
class Positions:
    items: list[Position] = field(default_factory=list)

    def list_positions(self, user_id: str) -> list[Position]:
        return [p for p in self.items if p.user_id == user_id]


class NoRates:
    def latest_snapshot(self) -> None:
        return None


@dataclass
class Risk:
    calls: int = 0
    broken: bool = False

    def readings(self, position: Position) -> RiskReadings:
        self.calls += 1
        if self.broken:
            return RiskReadings(oracle_price_usd=Decimal(150))
        return RiskReadings(health_factor=Decimal("1.5"), margin_ratio=Decimal("0.05"),
                            short_liquidation_price=Decimal(250), oracle_price_usd=Decimal(150))


@dataclass
class Book:
    parts: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    def put_realized(self, user_id: str, position_id: str, parts: dict[str, Decimal]) -> None:
        self.parts[position_id] = parts

    def realized_of(self, user_id: str) -> dict[str, dict[str, Decimal]]:
        return self.parts


def _position(pid: str, status: PositionStatus, hours_ago: int, realized: Decimal | None = None) -> Position:
    long = Leg("asgard", Decimal(10), Decimal(150), Decimal(1500), Decimal("0.75"), "pda")
    short = Leg("hyperliquid", Decimal(10), Decimal(150), Decimal(1500), Decimal("0.68"), "oid")
    at = T0 - timedelta(hours=hours_ago)
    return Position(pid, "u1", Asset.SOL, Protocol.DRIFT, Decimal(3), Decimal(1500), status, at, at, long, short,
                    realized_pnl_usd=realized)


def _service(positions: Positions, risk: Risk, book: Book, clock: MovableClock, tick: list[float]) -> PortfolioService:
    return PortfolioService(positions, NoRates(), risk, lambda p: Decimal("2.50"), book, clock,  # type: ignore[arg-type]
                            cache_seconds=15, monotonic=lambda: tick[0])


def test_a_page_reads_each_live_position_once_per_cache_window() -> None:
    positions = Positions([_position(f"p{i}", PositionStatus.OPEN, i) for i in range(5)])
    risk, tick = Risk(), [0.0]
    service = _service(positions, risk, Book(), MovableClock(T0), tick)
    for _ in range(10):  # ten dashboard polls within the window
        page = service.page("u1", "active")
    assert risk.calls == 5
    assert page.views[0].live is not None and page.views[0].live.health_factor == Decimal("1.5")
    assert page.views[0].pnl is not None and page.views[0].pnl.funding == Decimal("2.50")
    tick[0] = 16.0
    service.page("u1", "active")
    assert risk.calls == 10


def test_a_rebalanced_position_reads_the_venues_again_within_the_window() -> None:
    """A rebalance saved smaller legs (a new version of the position): its cached figures are the old legs'."""
    positions = Positions([_position("p1", PositionStatus.OPEN, 1)])
    risk, tick = Risk(), [0.0]
    service = _service(positions, risk, Book(), MovableClock(T0), tick)
    service.page("u1", "active")
    service.page("u1", "active")
    assert risk.calls == 1
    positions.items[0] = replace(positions.items[0], version=positions.items[0].version + 1)
    tick[0] = 1.0
    service.page("u1", "active")
    assert risk.calls == 2


def test_a_clock_moved_on_reads_the_venues_again_within_the_window() -> None:
    """The simulator's clock advanced by hours (interest accrued, funding paid): the cached figures are old."""
    positions = Positions([_position("p1", PositionStatus.OPEN, 1)])
    risk, tick, clock = Risk(), [0.0], MovableClock(T0)
    service = _service(positions, risk, Book(), clock, tick)
    service.page("u1", "active")
    clock.at, tick[0] = T0 + timedelta(seconds=10), 10.0
    service.page("u1", "active")
    assert risk.calls == 1  # within the window on both clocks
    clock.at, tick[0] = T0 + timedelta(hours=3), 11.0
    moved = service.page("u1", "active").views[0].live
    assert risk.calls == 2 and moved is not None and moved.read_at == T0 + timedelta(hours=3)


def test_a_live_position_gives_both_legs_liquidation_prices_and_names_the_nearer() -> None:
    # HF 1.5 at SOL 150: the long is liquidated by a 1/3 drop, at $100.00; the short at $250, a 2/3 rise
    service = _service(Positions([_position("p1", PositionStatus.OPEN, 1)]), Risk(), Book(), MovableClock(T0), [0.0])
    out = PositionViewOut.build(service.page("u1").views[0]).model_dump(mode="json")
    assert {key: out[key] for key in ("long_liquidation_price_usd", "short_liquidation_price_usd",
                                      "first_liquidation", "liquidation_price_usd", "liquidation_distance_pct")} == {
        "long_liquidation_price_usd": "100.00", "short_liquidation_price_usd": "250",
        "first_liquidation": "long", "liquidation_price_usd": "100.00", "liquidation_distance_pct": "33.33"}


def test_an_unreadable_venue_is_null_with_the_time_it_went_stale() -> None:
    positions = Positions([_position("p1", PositionStatus.OPEN, 1)])
    risk, tick, clock = Risk(broken=True), [0.0], MovableClock(T0)
    service = _service(positions, risk, Book(), clock, tick)
    first = service.page("u1").views[0].live
    assert first is not None and first.health_factor is None and first.stale_since == T0
    assert set(first.unreadable) == {"asgard", "hyperliquid"}
    assert (first.long_liquidation_price_usd, first.short_liquidation_price_usd, first.first_liquidation,
            first.liquidation_price_usd, first.liquidation_distance) == (None, None, None, None, None)
    clock.at, tick[0] = T0 + timedelta(minutes=1), 20.0
    later = service.page("u1").views[0].live
    assert later is not None and later.stale_since == T0  # since when, not "now"
    risk.broken, clock.at, tick[0] = False, T0 + timedelta(minutes=2), 40.0
    healed = service.page("u1").views[0].live
    assert healed is not None and healed.stale_since is None and healed.unreadable == ()


def test_history_pages_newest_first_with_the_kept_split() -> None:
    closed = [_position(f"c{i}", PositionStatus.CLOSED, 10 + i, Decimal("1.00")) for i in range(3)]
    book = Book({"c0": {"funding": Decimal("3.00"), "fees": Decimal("-2.00")}})
    service = _service(Positions([*closed, _position("o", PositionStatus.OPEN, 1)]), Risk(), book,
                       MovableClock(T0), [0.0])
    first = service.page("u1", "history", limit=2)
    assert [v.position.position_id for v in first.views] == ["c0", "c1"] and first.total == 3
    assert first.views[0].pnl is not None and first.views[0].pnl.total == Decimal("1.00")
    assert first.views[0].pnl_kind == "realized"
    second = service.page("u1", "history", limit=2, cursor=first.cursor)
    assert [v.position.position_id for v in second.views] == ["c2"] and second.cursor is None
    with pytest.raises(ServiceError):
        service.page("u1", cursor="nope")
