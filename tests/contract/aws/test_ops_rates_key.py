"""`dnbot ops status` reads the rates snapshot's age where the rates store writes it (moto): one key, the store's
(dnbot.adapters.aws.dynamodb.latest_rates_key), not a second copy that could drift from it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest

from dnbot import ops, resources
from dnbot.adapters.aws import dynamodb
from dnbot.adapters.aws.dynamodb import DynamoStateStore
from dnbot.domain.rates import FundingQuote, RatesSnapshot
from tests.contract.aws.test_dynamodb_store import T0, Clock, moto_table

SNAPSHOT = RatesSnapshot(at=T0, source="test", sol_price_usd=Decimal(150),
                         funding=FundingQuote(Decimal("0.0000125"), None, Decimal(150), Decimal(150)), markets=())


@pytest.fixture
def table() -> Iterator[Any]:
    with moto_table() as table:
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name=resources.KILL_SWITCH_PARAMETER, Value="off", Type="String")
        yield table


def _status() -> ops.Status:
    target = ops.Target(resources.STATE_TABLE.local_name, resources.KILL_SWITCH_PARAMETER, {}, {})
    return ops.read_status(ops.Clients(None, "us-east-1", None), target, T0 + timedelta(seconds=42))


def test_status_reads_the_snapshot_the_store_wrote(table: Any) -> None:
    assert _status().rates_at is None
    DynamoStateStore(table, Clock()).put_snapshot(SNAPSHOT)
    status = _status()
    assert (status.rates_at, status.rates_age_seconds) == (T0.isoformat(), 42)


def test_status_follows_the_store_key(table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dynamodb, "latest_rates_key", lambda: {"pk": "RATES", "sk": "NEWEST"})
    store = DynamoStateStore(table, Clock())
    store.put_snapshot(SNAPSHOT)
    assert store.latest_snapshot() == SNAPSHOT
    assert table.get_item(Key={"pk": "RATES", "sk": "LATEST"}).get("Item") is None
    assert _status().rates_at == T0.isoformat()
