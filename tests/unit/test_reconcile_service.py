"""The reconciler service over in-memory venues: a hedge that cannot be restored flattens the position instead,
a finding already recorded is not alerted twice, and a ledger that moves during the read leaves the user for
the next round."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Leg, Position, PositionStatus
from dnbot.domain.reconcile import VenueLong, VenueTruth
from dnbot.ports import VenueRejected
from dnbot.services.portfolio import PositionJournal
from dnbot.services.reconciler import Reconciler, ReconcilerLimits
from tests.unit import fakes
from tests.unit.fakes import NOW, Alerts, Clock

D = Decimal


class Ledger(fakes.Ledger):
    """The positions table, the users to reconcile, and `on_list`: what happens while a user's positions are read."""

    def __init__(self, *positions: Position) -> None:
        super().__init__(*positions)
        self.on_list: list[Any] = []

    def user_ids_to_reconcile(self, failed_since: datetime) -> list[str]:
        return sorted({p.user_id for p in self.items.values()})

    def list_positions(self, user_id: str) -> list[Position]:
        if self.on_list:
            self.on_list.pop(0)()
        return super().list_positions(user_id)


class Venues:
    """Asgard longs by position, each position's own short, and what the bot's fills do not explain."""

    def __init__(self, longs: dict[str, Decimal], shorts: dict[str, Decimal], outside: Decimal,
                 refuse_sells: bool = False) -> None:
        self.longs, self.shorts, self.outside, self.refuse_sells = longs, shorts, outside, refuse_sells
        self.trades: list[str] = []

    def venue_truth(self, user_id: str, position_ids: list[str], since: datetime) -> VenueTruth:
        account = sum((self.shorts.get(pid, D(0)) for pid in position_ids), D(0)) + self.outside
        return VenueTruth(account, {pid: self.shorts.get(pid, D(0)) for pid in position_ids},
                          tuple(VenueLong(f"pda-{pid}", pid, size, True) for pid, size in self.longs.items()
                                if pid in position_ids))

    def close_long(self, user_id: str, position_id: str) -> Decimal:
        self.trades.append(f"close long {position_id}")
        return D(600) if self.longs.pop(position_id, None) is not None else D(0)

    def close_short(self, user_id: str, position_id: str, size_sol: Decimal) -> Decimal:
        account = sum(self.shorts.values(), D(0)) + self.outside
        bought = min(size_sol, account)
        self.shorts[position_id] -= bought
        self.trades.append(f"close short {position_id} {bought}")
        return D(-5)

    def funding_usd(self, user_id: str, position_id: str, since: datetime) -> Decimal:
        return D(2)

    def long_closing_fees_usd(self, user_id: str, position_id: str) -> Decimal:
        return D("0.75")

    def short_closing_fees_usd(self, user_id: str, position_id: str) -> Decimal:
        return D(0)

    def trade_account_short(self, user_id: str, change_sol: Decimal, *, reduce_only: bool, key: str) -> Decimal:
        if change_sol > 0 and self.refuse_sells:
            raise VenueRejected("Insufficient margin to place order.")
        self.outside += change_sol
        self.trades.append(f"account {change_sol}")
        return D(0)


def position(pid: str = "p1", status: PositionStatus = PositionStatus.OPEN) -> Position:
    return Position(pid, "u1", Asset.SOL, Protocol.DRIFT, D(2), D(1500), status, NOW - timedelta(hours=3),
                    NOW - timedelta(hours=1), Leg("asgard", D(10), D(150), D(1500), D(1), f"pda-{pid}"),
                    Leg("hyperliquid", D(10), D(150), D(1500), D(1), f"cloid-{pid}"))


def reconciler(ledger: Ledger, venues: Venues, alerts: Alerts, journal: PositionJournal | None = None) -> Reconciler:
    return Reconciler(ledger, ledger, venues, venues, venues, venues, alerts, Clock(),  # type: ignore[arg-type]
                      ReconcilerLimits(timedelta(minutes=30), timedelta(hours=24)), journal=journal)


class Activity:
    def __init__(self) -> None:
        self.kinds: list[str] = []

    def record(self, user_id: str, kind: str, message: str, position_id: str | None = None, **detail: Any) -> None:
        self.kinds.append(kind)


class Book:
    def __init__(self) -> None:
        self.parts: dict[str, dict[str, Decimal]] = {}

    def put_realized(self, user_id: str, position_id: str, parts: dict[str, Decimal]) -> None:
        self.parts[position_id] = parts


class NoRates:
    def latest_snapshot(self) -> None:
        return None


def test_a_position_the_reconciler_closes_keeps_its_realized_split_like_a_close() -> None:
    """Funding and every venue fee in their parts (not the whole total in `price`), and an activity line."""
    ledger, activity, book = Ledger(position()), Activity(), Book()
    venues = Venues({"p1": D(10)}, {"p1": D(10)}, outside=D(-10), refuse_sells=True)
    journal = PositionJournal(activity, book, NoRates(), Clock())  # type: ignore[arg-type]
    reconciler(ledger, venues, Alerts(), journal).run()
    settled = ledger.items["p1"]
    assert settled.status is PositionStatus.CLOSED and settled.realized_pnl_usd is not None
    parts = book.parts["p1"]
    assert parts["funding"] == D(2) and parts["fees"] == -(D(1) + D(1) + D("0.75"))  # both opens, the long's close
    assert sum(parts.values(), D(0)) == settled.realized_pnl_usd
    assert activity.kinds == ["position_closed"]


def test_a_hedge_that_cannot_be_restored_closes_the_long_instead() -> None:
    ledger, alerts = Ledger(position()), Alerts()
    venues = Venues({"p1": D(10)}, {"p1": D(10)}, outside=D(-10), refuse_sells=True)  # the short was closed outside
    report = reconciler(ledger, venues, alerts).run()
    assert venues.trades == ["close long p1"]  # nothing to buy back: the account holds no short
    settled = ledger.items["p1"]
    assert settled.status is PositionStatus.CLOSED
    assert settled.close_reason == "reconciler: its short could not be restored"
    # the long returned 600 of its 750.50 collateral ((1500 bought + its 1 open fee) / 2), its short's opening fee
    # 1, funding collected 2
    assert settled.realized_pnl_usd == D(600) - D("750.5") - D(1) + D(2)
    assert [k for k, _ in alerts.sent] == ["drift", "drift"]
    assert "flattening p1" in " ".join(report.repairs)

    venues.trades.clear()
    again = reconciler(ledger, venues, alerts).run()
    assert again.drifts == [] and venues.trades == [] and len(alerts.sent) == 2


def test_a_long_size_the_ledger_does_not_match_is_flagged_once() -> None:
    ledger, alerts = Ledger(position()), Alerts()
    venues = Venues({"p1": D(7)}, {"p1": D(10)}, outside=D(0))
    reconciler(ledger, venues, alerts).run()
    flagged = ledger.items["p1"]
    assert flagged.status is PositionStatus.NEEDS_ATTENTION and flagged.drift is not None
    assert "long is 7 at Asgard, 10 in the ledger" in flagged.drift and venues.trades == []
    reconciler(ledger, venues, alerts).run()
    assert [k for k, _ in alerts.sent] == ["drift"]  # recorded already: not alerted every two minutes


def test_a_ledger_that_moves_while_the_venues_are_read_waits_for_the_next_round() -> None:
    ledger, alerts = Ledger(position()), Alerts()
    venues = Venues({}, {"p1": D(10)}, outside=D(0))  # the long is gone: drift, if the ledger held still
    moved = replace(ledger.items["p1"], version=7)
    ledger.on_list = [lambda: None, lambda: ledger.items.update(p1=moved)]
    report = reconciler(ledger, venues, alerts).run()
    assert report.skipped == ["u1"] and venues.trades == [] and alerts.sent == []


def test_a_workflow_running_leaves_the_user_alone_until_it_is_stale() -> None:
    pending = replace(position(), status=PositionStatus.PENDING, updated_at=NOW - timedelta(minutes=5),
                      short_leg=None)
    ledger, alerts = Ledger(pending), Alerts()
    venues = Venues({"p1": D(10)}, {}, outside=D(0))
    assert reconciler(ledger, venues, alerts).run().skipped == ["u1"]
    ledger.items["p1"] = replace(pending, updated_at=NOW - timedelta(hours=2))  # its workflow died
    report = reconciler(ledger, venues, alerts).run()
    assert [d["kind"] for d in report.drifts] == ["stale_workflow"]
    assert venues.trades == ["close long p1"] and ledger.items["p1"].status is PositionStatus.FAILED


def test_out_of_time_the_remaining_users_wait_for_the_next_cycle() -> None:
    ledger, alerts = Ledger(*(replace(position(f"p{i}"), user_id=f"u{i}") for i in range(5))), Alerts()
    venues = Venues({f"p{i}": D(10) for i in range(5)}, {f"p{i}": D(10) for i in range(5)}, outside=D(0))
    budget = iter([100.0, 60.0, 19.0])
    report = reconciler(ledger, venues, alerts).run(lambda: next(budget))
    assert (report.users, report.in_sync, report.unfinished) == (2, 2, 3)
