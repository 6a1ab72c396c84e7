"""The DynamoDB store against moto: item codecs round-trip exactly, conditions hold, expiry is checked in code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from dnbot import resources
from dnbot.adapters.asgard.references import LongReference
from dnbot.adapters.aws.dynamodb import DynamoStateStore
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import (
    IllegalTransition,
    Job,
    JobKind,
    JobStatus,
    Leg,
    Position,
    PositionStatus,
    StageStatus,
)
from dnbot.domain.rates import FundingQuote, LendingMarket, RatesSnapshot
from dnbot.local.cloud import create_state_table
from dnbot.ports import PositionConflict, PrivyWalletRecord, UserRecord

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@contextmanager
def moto_table(spec: resources.TableSpec = resources.STATE_TABLE) -> Iterator[Any]:
    """One table in a moto account, created as its TableSpec describes it; the boto3 Table."""
    with mock_aws():
        create_state_table(boto3.client("dynamodb", region_name="us-east-1"), spec)
        yield boto3.resource("dynamodb", region_name="us-east-1").Table(spec.local_name)


@pytest.fixture
def store(clock: Clock) -> Iterator[DynamoStateStore]:
    with moto_table() as table:
        yield DynamoStateStore(table, clock)


def _position(**changes: object) -> Position:
    base = {"position_id": "p1", "user_id": "u1", "asset": Asset.JITOSOL, "protocol": Protocol.KAMINO,
                "leverage": Decimal(3), "target_notional_usd": Decimal("1500.00"), "status": PositionStatus.PENDING,
                "created_at": T0, "updated_at": T0}
    base.update(changes)
    return Position(**base)  # type: ignore[arg-type]


def test_snapshot_round_trips_exactly(store: DynamoStateStore) -> None:
    snapshot = RatesSnapshot(
        at=T0, source="test", sol_price_usd=Decimal("187.1234"),
        funding=FundingQuote(Decimal("0.0000125"), None, Decimal("187.2"), Decimal("187.1")),
        markets=(LendingMarket(Asset.SOL, Protocol.DRIFT, Decimal("0.0412345678901234"), Decimal("0.071"),
                               Decimal(0), Decimal(5), Decimal("1000000"), None),))
    store.put_snapshot(snapshot)
    assert store.latest_snapshot() == snapshot
    assert store.recent_snapshots(T0 - timedelta(minutes=1)) == [snapshot]


def test_position_create_is_conditional_and_saves_are_optimistic(store: DynamoStateStore) -> None:
    position = _position()
    store.create_position(position)
    with pytest.raises(PositionConflict):
        store.create_position(position)
    leg = Leg("asgard", Decimal("7.5"), Decimal("200.1"), Decimal("1500.75"), Decimal("0.75"), "ref")
    moved = position.moved_to(PositionStatus.OPEN, T0 + timedelta(seconds=5), long_leg=leg)
    saved = store.save_position(moved)
    assert saved.version == 1 and store.get_position("u1", "p1") == saved
    with pytest.raises(PositionConflict):  # a writer holding the old version loses
        store.save_position(position.moved_to(PositionStatus.FAILED, T0))
    with pytest.raises(PositionConflict):  # even a legal move, if its copy was read before the last save
        store.save_position(position.moved_to(PositionStatus.NEEDS_ATTENTION, T0))
    with pytest.raises(IllegalTransition):  # an open position cannot go back to pending
        saved.moved_to(PositionStatus.PENDING, T0)
    assert store.save_position(saved.moved_to(PositionStatus.CLOSING, T0)).version == 2
    with pytest.raises(PositionConflict):  # saving a position that was never created is not an upsert
        store.save_position(replace(position, position_id="p-none"))
    assert [p.position_id for p in store.positions_with_status(PositionStatus.CLOSING)] == ["p1"]
    assert store.positions_with_status(PositionStatus.PENDING) == []


def test_job_stages_round_trip(store: DynamoStateStore) -> None:
    job = Job("j1", "u1", "p1", JobKind.OPEN, JobStatus.RUNNING, T0, T0).with_stage(
        "preflight", StageStatus.DONE, T0, "ok")
    store.put_job(job)
    assert store.get_job("j1") == job


def test_users_by_email_and_running_index(store: DynamoStateStore) -> None:
    user = UserRecord("u1", "Ann@Example.com", T0, "SoLaddr", "0xabc", "running", {"preset": "balanced"})
    store.put_user(user)
    assert store.find_user_by_email("ann@example.com") == user
    assert store.running_user_ids() == ["u1"]
    store.put_user(UserRecord("u1", "Ann@Example.com", T0, bot_status="paused"))
    assert store.running_user_ids() == []


def test_wallets_and_blobs(store: DynamoStateStore) -> None:
    record = PrivyWalletRecord("sw", "SoLaddr", "ew", "0xabc")
    store.put_wallets("u1", record)
    assert store.get_wallets("u1") == record
    assert store.get_wallets("u2") is None
    store.put_blob("agent#u1", {"ciphertext": "x", "nonce": "y"})
    assert store.get_blob("agent#u1") == {"ciphertext": "x", "nonce": "y"}


def test_asgard_long_references(store: DynamoStateStore) -> None:
    reference = LongReference(wallet="W", protocol=1, pda="PDA", open_signature="sig")
    store.put_reference("u1", "p1", reference)
    assert store.get_reference("u1", "p1") == reference
    assert store.get_reference("u1", "p2") is None


def test_nonces_strictly_increase_per_signer_even_when_the_clock_stands_still(store: DynamoStateStore) -> None:
    first = [store.next_nonce("0xAgent") for _ in range(3)]
    assert first == sorted(set(first)) and first[0] == int(T0.timestamp() * 1000)
    assert store.next_nonce("0xother") == first[0]  # per signer
