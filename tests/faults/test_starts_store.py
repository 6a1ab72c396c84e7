"""Starts and state transitions under contention, on the production DynamoDB adapters (moto): concurrent writers
on one position (hypothesis stateful: >= 1,000 interleavings, 0 illegal transitions), the Idempotency-Key store's
in-flight / reuse / replay / expiry answers, the per-user open lock, the failed-open back-off; and a WebSocket
connection that is gone (API Gateway's GoneException through the production pusher) dropped while the others
still get the message."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from dnbot.adapters.aws.dynamodb import DynamoStateStore
from dnbot.adapters.aws.starts import IDEMPOTENCY_TTL, DynamoStartGuards
from dnbot.adapters.aws.websocket import ApiGatewayPusher
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import (
    OPEN_BACKOFF_BASE,
    OPEN_BACKOFF_CAP,
    IllegalTransition,
    Position,
    PositionStatus,
)
from dnbot.ports import PositionConflict
from dnbot.services.errors import Conflict
from dnbot.services.idempotency import IdempotencyKeyReused, IdempotentStarts, fingerprint
from dnbot.services.live_updates import LiveUpdates
from tests.contract.aws.test_dynamodb_store import moto_table
from tests.faults.invariant import InvariantReport, record_figure
from tests.unit.fakes import MovableClock

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def table() -> Iterator[Any]:
    with moto_table() as table:
        yield table


# --- concurrent writers on one position ------------------------------------------------------------------

WRITERS = 4
STATS = {"steps": 0, "saved": 0, "conflicts": 0, "refused_illegal": 0, "illegal_stored": 0}


class ConcurrentWriters(RuleBasedStateMachine):
    """Writers (workflow steps, the reconciler, a duplicate close) each read the position at some moment and later
    try to move it from the copy they read. Every save is a versioned conditional write: a writer whose copy is
    stale loses; a move the table does not allow is refused before it is written."""

    table: Any = None
    counter = 0

    def __init__(self) -> None:
        super().__init__()
        self.clock = MovableClock(T0)
        self.store = DynamoStateStore(self.table, self.clock.now)
        self.copies: dict[int, Position] = {}
        self.history: list[PositionStatus] = []

    @initialize()
    def create(self) -> None:
        ConcurrentWriters.counter += 1
        position = Position(f"p{ConcurrentWriters.counter}", "u-writers", Asset.SOL, Protocol.DRIFT, Decimal(3),
                            Decimal(1000), PositionStatus.PENDING, T0, T0)
        self.store.create_position(position)
        self.history = [PositionStatus.PENDING]
        self.position_id = position.position_id

    def _read(self) -> Position:
        found = self.store.get_position("u-writers", self.position_id)
        assert found is not None
        return found

    @rule(writer=st.integers(0, WRITERS - 1))
    def read(self, writer: int) -> None:
        STATS["steps"] += 1
        self.copies[writer] = self._read()

    @rule(writer=st.integers(0, WRITERS - 1), status=st.sampled_from(list(PositionStatus)))
    def move(self, writer: int, status: PositionStatus) -> None:
        target = status
        STATS["steps"] += 1
        copy = self.copies.get(writer) or self._read()
        self.clock.at += timedelta(seconds=1)
        try:
            moved = copy.moved_to(target, self.clock.at, failure=f"writer {writer}")
        except IllegalTransition:
            STATS["refused_illegal"] += 1
            return
        before = self.history[-1]
        try:
            saved = self.store.save_position(moved)
        except PositionConflict:
            STATS["conflicts"] += 1
            self.copies.pop(writer, None)  # it must read again
            return
        STATS["saved"] += 1
        if not before.may_move_to(target):
            STATS["illegal_stored"] += 1
        self.history.append(target)
        self.copies[writer] = saved

    @invariant()
    def the_table_holds_the_last_winning_move(self) -> None:
        if not self.history:
            return
        stored = self._read()
        assert stored.status is self.history[-1]
        assert stored.version == len(self.history) - 1  # one version per winning write, none lost or doubled


def test_concurrent_writers_never_store_an_illegal_transition(table: Any) -> None:
    ConcurrentWriters.table = table
    run_state_machine_as_test(ConcurrentWriters, settings=settings(
        max_examples=60, stateful_step_count=30, deadline=None, database=None))
    print(f"concurrent writers: {STATS['steps']} interleaved steps, {STATS['saved']} winning writes, "
          f"{STATS['conflicts']} stale writers refused, {STATS['refused_illegal']} illegal moves refused, "
          f"{STATS['illegal_stored']} illegal transitions stored")
    assert STATS["steps"] >= 1000
    assert STATS["conflicts"] > 0 and STATS["refused_illegal"] > 0  # both guards were exercised
    assert STATS["illegal_stored"] == 0
    record_figure(f"concurrent writers on one position ({STATS['steps']} interleavings, "
                  f"{STATS['illegal_stored']} illegal transitions)", InvariantReport())


def test_two_threads_racing_one_move_have_exactly_one_winner(table: Any) -> None:
    store = DynamoStateStore(table, MovableClock(T0).now)
    position = Position("p-race", "u-race", Asset.SOL, Protocol.DRIFT, Decimal(3), Decimal(1000),
                        PositionStatus.OPEN, T0, T0)
    store.create_position(position)
    results: list[str] = []
    barrier = threading.Barrier(8)

    def close(n: int) -> None:  # eight duplicate closes read the same copy, then all try CLOSING
        barrier.wait()
        try:
            store.save_position(position.moved_to(PositionStatus.CLOSING, T0, close_reason=f"#{n}"))
            results.append("won")
        except PositionConflict:
            results.append("lost")

    threads = [threading.Thread(target=close, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["lost"] * 7 + ["won"]
    stored = store.get_position("u-race", "p-race")
    assert stored is not None and stored.version == 1 and stored.status is PositionStatus.CLOSING


# --- Idempotency-Key ---------------------------------------------------------------------------------------


def test_idempotency_key_replays_refuses_reuse_and_in_flight_per_user(table: Any) -> None:
    clock = MovableClock(T0)
    starts = IdempotentStarts(DynamoStartGuards(table, clock.now))
    body = fingerprint("POST", "/api/v1/positions/open", {"asset": "SOL", "size_usd": "1000"})
    calls: list[str] = []

    def start() -> tuple[int, dict[str, Any]]:
        calls.append("start")
        # the same key arriving while this request still runs: 409, nothing started
        with pytest.raises(Conflict) as in_flight:
            starts.run("u1", "key-1", body, lambda: (500, {}))
        assert in_flight.value.code == "idempotency_key_in_flight"
        return 202, {"job_id": "j1"}

    assert starts.run("u1", "key-1", body, start) == (202, {"job_id": "j1"})
    assert starts.run("u1", "key-1", body, start) == (202, {"job_id": "j1"})  # replayed, not started
    assert calls == ["start"]
    other = fingerprint("POST", "/api/v1/positions/open", {"asset": "SOL", "size_usd": "900"})
    with pytest.raises(IdempotencyKeyReused):
        starts.run("u1", "key-1", other, start)
    assert starts.run("u2", "key-1", body, lambda: (202, {"job_id": "j2"})) == (202, {"job_id": "j2"})  # per user
    clock.at += IDEMPOTENCY_TTL + timedelta(seconds=1)  # a day later the key is free again
    assert starts.run("u1", "key-1", other, lambda: (202, {"job_id": "j3"})) == (202, {"job_id": "j3"})


def test_a_request_that_died_frees_its_key_after_the_lease(table: Any) -> None:
    clock = MovableClock(T0)
    guards = DynamoStartGuards(table, clock.now)
    body = fingerprint("POST", "/x", {})
    assert guards.claim("u3", "k", body, timedelta(seconds=60)) is None  # the first request claims, then crashes
    assert guards.claim("u3", "k", body, timedelta(seconds=60)) is not None  # still in flight
    clock.at += timedelta(seconds=61)
    assert guards.claim("u3", "k", body, timedelta(seconds=60)) is None  # a retry takes it over


def test_open_lock_and_backoff(table: Any) -> None:
    clock = MovableClock(T0)
    guards = DynamoStartGuards(table, clock.now)
    assert guards.acquire_open("u4", "p1", timedelta(minutes=30)) is None
    assert guards.acquire_open("u4", "p2", timedelta(minutes=30)) == "p1"  # a second open while one runs
    assert guards.acquire_open("u4", "p1", timedelta(minutes=30)) is None  # the same open, retried
    guards.release_open("u4", "p2")  # not the holder: nothing released
    assert guards.acquire_open("u4", "p2", timedelta(minutes=30)) == "p1"
    guards.release_open("u4", "p1")
    assert guards.acquire_open("u4", "p2", timedelta(minutes=30)) is None
    clock.at += timedelta(minutes=31)  # an abandoned lock lapses
    assert guards.acquire_open("u4", "p3", timedelta(minutes=30)) is None

    waits = [guards.record_open_failure("u4", OPEN_BACKOFF_BASE, OPEN_BACKOFF_CAP).until - clock.at
             for _ in range(10)]
    assert waits[:4] == [timedelta(minutes=10), timedelta(minutes=20), timedelta(minutes=40), timedelta(minutes=80)]
    assert max(waits) == OPEN_BACKOFF_CAP == waits[-1]
    backoff = guards.open_backoff("u4")
    assert backoff is not None and backoff.failures == 10
    guards.clear_open_failures("u4")
    assert guards.open_backoff("u4") is None


# --- WebSocket connection gone ----------------------------------------------------------------------------


def test_a_gone_websocket_connection_is_dropped_and_the_others_still_get_the_message(table: Any) -> None:
    store = DynamoStateStore(table, MovableClock(T0).now)
    for connection_id in ("conn-a", "conn-b-gone", "conn-c"):
        store.add_connection(connection_id, "u-ws")
    management = boto3.client("apigatewaymanagementapi", region_name="us-east-1",
                              endpoint_url="https://abc123.execute-api.us-east-1.amazonaws.com/prod")
    stubber = Stubber(management)
    stubber.add_response("post_to_connection", {}, {"ConnectionId": "conn-a", "Data": ANY})
    stubber.add_client_error("post_to_connection", service_error_code="GoneException", http_status_code=410,
                             expected_params={"ConnectionId": "conn-b-gone", "Data": ANY})
    stubber.add_response("post_to_connection", {}, {"ConnectionId": "conn-c", "Data": ANY})
    item = {"type": "position", "user_id": "u-ws", "position_id": "p1", "status": "open", "asset": "SOL",
            "protocol": "drift"}
    with stubber:
        sent = LiveUpdates(store, ApiGatewayPusher(management)).broadcast([item])
    stubber.assert_no_pending_responses()
    assert sent == 2
    assert store.connections("u-ws") == ["conn-a", "conn-c"]
    # the next message goes only to the live ones
    stubber = Stubber(management)
    for connection_id in ("conn-a", "conn-c"):
        stubber.add_response("post_to_connection", {}, {"ConnectionId": connection_id, "Data": ANY})
    with stubber:
        assert LiveUpdates(store, ApiGatewayPusher(management)).broadcast([item]) == 2
    stubber.assert_no_pending_responses()
    record_figure("WebSocket connection gone (1 of 3)", InvariantReport())
