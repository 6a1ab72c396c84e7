"""The depeg guard's reference in DynamoDB (moto): each LST's best rate of every hour, kept by the poller's
`put_snapshot` next to (not instead of) the hour's last snapshot that the rates history reads."""

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
from dnbot.domain.lst_peg import PegQuote
from dnbot.domain.positions import Position, PositionStatus
from dnbot.domain.rates import FundingQuote, LendingMarket, RatesSnapshot
from dnbot.local.cloud import create_state_table
from dnbot.services.preflight_checks import DEPEG_LOOKBACK, lst_depeg_refusal, lst_fair_sol_rates

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
D = Decimal
SOL_USD = D(150)
STAKING_APY = D("0.07")


@pytest.fixture
def store() -> Iterator[DynamoStateStore]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_state_table(client)
        table = boto3.resource("dynamodb", region_name="us-east-1").Table(resources.STATE_TABLE.local_name)
        yield DynamoStateStore(table, lambda: T0)


def snapshot(at: datetime, jito_rate: str) -> RatesSnapshot:
    markets = tuple(LendingMarket(Asset.JITOSOL, protocol, D(0), D("0.06"), STAKING_APY, max_leverage=D(2),
                                  price_usd=D(jito_rate) * SOL_USD) for protocol in (Protocol.KAMINO, Protocol.DRIFT))
    sol = LendingMarket(Asset.SOL, Protocol.KAMINO, D("0.05"), D("0.06"), D(0), price_usd=SOL_USD)
    return RatesSnapshot(at, (sol, *markets), FundingQuote(D("0.00001"), None, SOL_USD, SOL_USD), SOL_USD, "test")


def test_the_best_rate_of_the_hour_is_kept_while_the_hourly_snapshot_is_the_last(store: DynamoStateStore) -> None:
    store.put_snapshot(snapshot(T0 + timedelta(minutes=1), "1.2"))  # a fresh deploy's first poll
    store.put_snapshot(snapshot(T0 + timedelta(minutes=3), "1.164"))  # 3 % under, later in the same hour
    assert store.peg_quotes(T0) == [PegQuote(Asset.JITOSOL, T0 + timedelta(minutes=1), D("1.2"), STAKING_APY)]
    # the rates history (funding, market means, charts) still reads the hour's last poll
    assert [s.at for s in store.hourly_snapshots(T0)] == [T0 + timedelta(minutes=3)]

    store.put_snapshot(snapshot(T0 + timedelta(minutes=30), "1.21"))  # a better rate replaces it
    store.put_snapshot(snapshot(T0 + timedelta(hours=1, minutes=2), "1.164"))  # the next hour has its own
    assert [(q.at, q.sol_rate) for q in store.peg_quotes(T0 - timedelta(hours=2))] == [
        (T0 + timedelta(minutes=30), D("1.21")), (T0 + timedelta(hours=1, minutes=2), D("1.164"))]
    assert [q.sol_rate for q in store.peg_quotes(T0 + timedelta(hours=1, minutes=30))] == [D("1.164")]


def test_a_depeg_after_the_first_poll_of_the_first_hour_is_refused(store: DynamoStateStore) -> None:
    store.put_snapshot(snapshot(T0 + timedelta(minutes=1), "1.2"))
    depegged = snapshot(T0 + timedelta(minutes=3), "1.164")
    store.put_snapshot(depegged)
    fair = lst_fair_sol_rates(store, depegged)
    assert set(fair) == {Asset.JITOSOL} and D("1.2") < fair[Asset.JITOSOL] < D("1.2001")  # 2 minutes of staking
    pending = Position(position_id="p", user_id="nobody", asset=Asset.JITOSOL, protocol=Protocol.KAMINO,
                       leverage=D(2), target_notional_usd=D(800), status=PositionStatus.PENDING,
                       created_at=depegged.at, updated_at=depegged.at)
    reason = lst_depeg_refusal(pending, depegged, store, None)
    assert reason is not None and reason.startswith("jitoSOL trades 3.00% below its fair SOL value")


def test_the_reference_expires_after_the_lookback(store: DynamoStateStore) -> None:
    store.put_snapshot(snapshot(T0, "1.2"))
    item = store._table.get_item(Key={"pk": "RATES", "sk": f"PEG#{T0.isoformat()}#jitoSOL"})["Item"]
    assert int(item["expires_at"]) > (T0 + DEPEG_LOOKBACK).timestamp()  # DynamoDB's TTL removes it after that
