"""One reconcile per user at a time: the per-user lease on the production DynamoDB adapter (moto), and the
reconciler skipping a user whose lease another worker holds (a reconcile message delivered twice)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from dnbot.adapters.aws.starts import DynamoStartGuards
from dnbot.services.reconciler import RECONCILE_LEASE, Reconciler, ReconcilerLimits
from tests.contract.aws.test_dynamodb_store import moto_table
from tests.unit.fakes import MovableClock
from tests.unit.test_reconcile_service import Alerts, Clock, Ledger, Venues, position

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOLD = timedelta(minutes=5)
D = Decimal


@pytest.fixture
def guards() -> Iterator[tuple[DynamoStartGuards, MovableClock]]:
    with moto_table() as table:
        clock = MovableClock(T0)
        yield DynamoStartGuards(table, clock.now), clock


def test_one_holder_at_a_time_until_released_or_lapsed(guards: tuple[DynamoStartGuards, MovableClock]) -> None:
    leases, clock = guards
    assert leases.acquire_user_lease("reconcile", "u1", "worker-a", HOLD)
    assert not leases.acquire_user_lease("reconcile", "u1", "worker-b", HOLD)
    assert leases.acquire_user_lease("reconcile", "u1", "worker-a", HOLD)  # its own: a retry keeps it
    assert leases.acquire_user_lease("reconcile", "u2", "worker-b", HOLD)  # another user is another lease
    leases.release_user_lease("reconcile", "u1", "worker-b")  # not b's to give back: nothing changes
    assert not leases.acquire_user_lease("reconcile", "u1", "worker-b", HOLD)
    leases.release_user_lease("reconcile", "u1", "worker-a")
    assert leases.acquire_user_lease("reconcile", "u1", "worker-b", HOLD)
    clock.at += HOLD + timedelta(seconds=1)  # worker b died holding it: the lease lapses
    assert leases.acquire_user_lease("reconcile", "u1", "worker-c", HOLD)


def test_of_eight_workers_asking_at_once_exactly_one_holds_it(guards: tuple[DynamoStartGuards, MovableClock]) -> None:
    # The lease is ONE conditional put (no read before it), so workers asking at once are, to DynamoDB, the same
    # puts in some order: it applies each condition atomically. (Threads cannot show that here: moto does not
    # serialize conditional writes across threads, and a threaded version of this test saw 2 or 4 winners in 5
    # of 20 runs, a fault of the emulator, not of the adapter.) Every order has one winner: the first.
    leases, _ = guards
    for rotation in range(8):
        workers = [f"worker-{(n + rotation) % 8}" for n in range(8)]
        won = [w for w in workers if leases.acquire_user_lease("reconcile", f"u{rotation}", w, HOLD)]
        assert won == [workers[0]]


class HeldElsewhere:
    """A lease another worker holds for every user; records what this worker asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, timedelta]] = []
        self.released: list[str] = []

    def acquire_user_lease(self, scope: str, user_id: str, holder: str, hold: timedelta) -> bool:
        self.asked.append((scope, user_id, hold))
        return False

    def release_user_lease(self, scope: str, user_id: str, holder: str) -> None:
        self.released.append(user_id)


class FreeLease(HeldElsewhere):
    def acquire_user_lease(self, scope: str, user_id: str, holder: str, hold: timedelta) -> bool:
        super().acquire_user_lease(scope, user_id, holder, hold)
        return True


def _reconciler(lease: Any, venues: Venues, ledger: Ledger) -> Reconciler:
    return Reconciler(ledger, ledger, venues, venues, venues, venues, Alerts(), Clock(),  # type: ignore[arg-type]
                      ReconcilerLimits(timedelta(minutes=30), timedelta(hours=24)), lease=lease)


def test_a_user_another_worker_is_reconciling_is_skipped_untouched() -> None:
    ledger = Ledger(position())
    venues = Venues({"p1": D(10)}, {"p1": D(10)}, outside=D(4))  # 4 SOL of short no position explains
    held = HeldElsewhere()
    report = _reconciler(held, venues, ledger).reconcile_one("u1")
    assert report.skipped == ["u1"] and venues.trades == [] and held.released == []
    assert held.asked == [("reconcile", "u1", RECONCILE_LEASE)]
    free = FreeLease()
    report = _reconciler(free, venues, ledger).reconcile_one("u1")
    assert report.skipped == [] and venues.trades  # the lease's holder buys the extra short back
    assert free.released == ["u1"]
