"""GET /status's pnl_24h_usd through ControlService: realized PnL of the positions closed in the last 24 h + the
open positions' unrealized change, from the stored hourly PnL snapshots in one read (no venue read: it is polled)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.positions import Position, PositionStatus
from dnbot.ports import PnlSnapshot, UserRecord
from dnbot.services.control import ControlService
from tests.unit.fakes import NOW, Clock

D = Decimal


def hours_ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


@dataclass
class Store:
    """The user and position stores of ControlService."""

    positions: list[Position] = field(default_factory=list)

    def get_user(self, user_id: str) -> UserRecord | None:
        return UserRecord(user_id, "u@example.com", hours_ago(100))

    def list_positions(self, user_id: str) -> list[Position]:
        return [p for p in self.positions if p.user_id == user_id]


class Switch:
    def kill_switch(self) -> KillSwitch:
        return KillSwitch.OFF

    def set_kill_switch(self, value: KillSwitch) -> None:
        raise AssertionError("not on this path")


@dataclass
class Snapshots:
    kept: list[tuple[str, PnlSnapshot]] = field(default_factory=list)
    reads: list[datetime] = field(default_factory=list)

    def put_snapshot(self, user_id: str, snapshot: PnlSnapshot) -> None:
        self.kept.append((user_id, snapshot))

    def snapshots(self, user_id: str, since: datetime, position_id: str | None = None) -> list[PnlSnapshot]:
        self.reads.append(since)
        hour = since.replace(minute=0, second=0, microsecond=0)  # as DynamoPnlSnapshots: from the hour of `since`
        return sorted((s for u, s in self.kept if u == user_id and s.at >= hour
                       and position_id in (None, s.position_id)), key=lambda s: s.at)


def position(position_id: str, opened: float, status: PositionStatus = PositionStatus.OPEN,
             updated: float | None = None, realized: str | None = None, user_id: str = "u1") -> Position:
    return Position(position_id, user_id, Asset.SOL, Protocol.DRIFT, D(3), D(1500), status, hours_ago(opened),
                    hours_ago(opened if updated is None else updated),
                    realized_pnl_usd=None if realized is None else D(realized))


def snap(snapshots: Snapshots, position_id: str, hours: float, fees: str, funding: str = "0",
         user_id: str = "u1") -> None:
    snapshots.put_snapshot(user_id, PnlSnapshot(position_id, hours_ago(hours), {"fees": D(fees),
                                                                               "funding": D(funding)}))


def service(store: Store, snapshots: Snapshots | None) -> ControlService:
    return ControlService(store, store, Switch(), Clock(), (), snapshots=snapshots)


def test_an_open_position_counts_its_unrealized_pnl_as_of_its_latest_snapshot() -> None:
    snapshots = Snapshots()
    snap(snapshots, "p1", 0.5, fees="-1.80", funding="0.12")
    status = service(Store([position("p1", opened=1)]), snapshots).status("u1")
    assert status.pnl_24h_usd == D("-1.68")
    assert status.pnl_24h_as_of == hours_ago(0.5)


def test_closed_in_the_window_counts_what_it_earned_in_it_and_an_old_open_one_its_change_since_the_start() -> None:
    snapshots = Snapshots()
    snap(snapshots, "old", 24.4, fees="-2.00", funding="10.00")  # at 24.4 h ago: 8.00 before the window
    snap(snapshots, "old", 23.4, fees="-2.00", funding="11.00")
    snap(snapshots, "long-open", 25, fees="-1.00", funding="30.00")  # 29.00 at the start
    snap(snapshots, "long-open", 0.7, fees="-1.00", funding="32.50")
    snap(snapshots, "other-user", 0.7, fees="-99", user_id="u2")
    store = Store([position("old", opened=48, status=PositionStatus.CLOSED, updated=3, realized="9.29"),
                   position("long-open", opened=200),
                   position("ancient", opened=90, status=PositionStatus.CLOSED, updated=30, realized="-50"),
                   position("failed", opened=5, status=PositionStatus.FAILED, updated=5, realized="-0.40"),
                   position("mine-too", opened=1, user_id="u2")])
    status = service(store, snapshots).status("u1")
    assert status.pnl_24h_usd == D("1.29") + D("2.50") - D("0.40")
    assert status.pnl_24h_as_of == hours_ago(0.7)
    assert snapshots.reads == [hours_ago(26)]  # one read, from before the window's start


def test_no_open_position_the_figure_is_realized_and_exact() -> None:
    store = Store([position("p1", opened=2, status=PositionStatus.CLOSED, updated=1, realized="-3.29")])
    snapshots = Snapshots()
    snap(snapshots, "p1", 1.5, fees="-1.80")
    status = service(store, snapshots).status("u1")
    assert (status.pnl_24h_usd, status.pnl_24h_as_of) == (D("-3.29"), None)


def test_nothing_to_count_reads_no_snapshot() -> None:
    snapshots = Snapshots()
    status = service(Store([position("gone", opened=60, status=PositionStatus.CLOSED, updated=40, realized="5")]),
                     snapshots).status("u1")
    assert (status.pnl_24h_usd, status.pnl_24h_as_of, snapshots.reads) == (D(0), None, [])


def test_without_a_snapshot_store_an_open_position_counts_zero_as_of_its_open() -> None:
    status = service(Store([position("p1", opened=0.2)]), None).status("u1")
    assert (status.pnl_24h_usd, status.pnl_24h_as_of) == (D(0), hours_ago(0.2))
