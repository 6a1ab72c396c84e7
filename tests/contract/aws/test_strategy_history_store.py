"""The poller's hourly history in DynamoDB (moto) and what the tick reads from it for the strategy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from dnbot import resources
from dnbot.adapters.aws.dynamodb import DynamoStateStore
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.carry import carry_outlook
from dnbot.domain.presets import PRESETS
from dnbot.domain.rates import FundingQuote, LendingMarket, RatesSnapshot
from dnbot.local.cloud import create_state_table
from dnbot.services.rates import (
    markets_from_json,
    markets_to_json,
    outlook_from_json,
    outlook_to_json,
    strategy_history,
)

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
D = Decimal


@pytest.fixture
def store() -> Iterator[DynamoStateStore]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_state_table(client)
        table = boto3.resource("dynamodb", region_name="us-east-1").Table(resources.STATE_TABLE.local_name)
        yield DynamoStateStore(table, lambda: T0)


def snapshot(at: datetime, funding: str, borrow: str) -> RatesSnapshot:
    market = LendingMarket(Asset.JITOSOL, Protocol.KAMINO, D(0), D(borrow), D("0.07"), max_leverage=D(2))
    return RatesSnapshot(at, (market,), FundingQuote(D(funding), None, D(150), D(150)), D(150), "test")


def test_the_last_poll_of_each_hour_is_kept_and_read_oldest_first(store: DynamoStateStore) -> None:
    store.put_snapshot(snapshot(T0 + timedelta(minutes=10), "0.00001", "0.05"))
    store.put_snapshot(snapshot(T0 + timedelta(minutes=50), "0.00002", "0.07"))  # overwrites hour 12
    store.put_snapshot(snapshot(T0 + timedelta(hours=1, minutes=5), "0.00003", "0.09"))
    hourly = store.hourly_snapshots(T0 - timedelta(hours=3))
    assert [s.at for s in hourly] == [T0 + timedelta(minutes=50), T0 + timedelta(hours=1, minutes=5)]
    assert store.hourly_snapshots(T0 + timedelta(hours=1, minutes=30)) == hourly[1:]  # from that hour on

    history = strategy_history(store, T0 + timedelta(hours=2))
    assert history.funding_history_hourly == [D("0.00002"), D("0.00003")]
    (mean,) = history.market_means
    assert (mean.usdc_borrow_apy, mean.staking_apy) == (D("0.08"), D("0.07"))
    outlooks = history.outlooks()
    assert set(outlooks) == {p.persistence_hours for p in PRESETS.values()}
    assert outlooks[24] == carry_outlook(history.funding_history_hourly, lookback_hours=1440, recent_hours=24)


def test_the_tick_context_codecs_round_trip() -> None:
    outlook = carry_outlook([D("0.0000125")] * 100 + [D("-0.0001")] * 30, lookback_hours=96)
    assert outlook_from_json(outlook_to_json(outlook)) == outlook
    market = LendingMarket(Asset.SOL, Protocol.DRIFT, D("0.031"), D("0.072"), D(0))
    assert markets_from_json(markets_to_json((market,))) == (market,)
