"""Every adapter read that lists a user's records reads EVERY page of its Query: DynamoDB ends a page at 1 MB
(or at Limit) with a LastEvaluatedKey, and a reader that stops there silently drops records (moto)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from dnbot import resources
from dnbot.adapters.aws.dynamodb import DynamoStateStore
from dnbot.adapters.aws.sessions import DynamoAuditTrail
from dnbot.adapters.aws.withdrawals import DynamoWithdrawalStore
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Position, PositionStatus
from dnbot.domain.rates import FundingQuote, RatesSnapshot
from dnbot.domain.withdrawals import Withdrawal
from tests.contract.aws.test_dynamodb_store import T0, Clock, moto_table

PAGE = 2  # items per Query page in these tests: five records take three pages
PADDING = "x" * 300_000  # three such items pass DynamoDB's (and moto's) 1 MB a page


class ShortPages:
    """A boto3 Table whose Query pages end after PAGE items, as DynamoDB's do when they reach 1 MB; counts the
    Query calls. Every other call goes to the table as is."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self.queries = 0

    def query(self, **kwargs: Any) -> dict[str, Any]:
        self.queries += 1
        response: dict[str, Any] = self._table.query(**{**kwargs, "Limit": min(int(kwargs.get("Limit", PAGE)), PAGE)})
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def _position(n: int) -> Position:
    at = T0 + timedelta(minutes=n)
    return Position(f"p{n}", "u1", Asset.JITOSOL, Protocol.KAMINO, Decimal(3), Decimal("1500.00"),
                    PositionStatus.PENDING, at, at)


def _withdrawal(n: int) -> Withdrawal:
    at = T0 + timedelta(minutes=n)
    return Withdrawal(f"w{n}", "u1", "USDC", Decimal("10.5"), "So1destination", "sent", at, at, signature=f"s{n}")


def test_list_positions_reads_every_page() -> None:
    with moto_table() as table:
        paged = ShortPages(table)
        store = DynamoStateStore(paged, Clock())
        for n in range(5):
            store.create_position(_position(n))
        assert [p.position_id for p in store.list_positions("u1")] == ["p4", "p3", "p2", "p1", "p0"]
        assert paged.queries == 3


def test_list_positions_past_one_megabyte() -> None:
    """No page hook: four 300 kB items are more than one 1 MB answer, as moto (like DynamoDB) pages them."""
    with moto_table() as table:
        store = DynamoStateStore(table, Clock())
        for n in range(4):
            store.create_position(_position(n))
            table.update_item(Key={"pk": "USER#u1", "sk": f"POSITION#p{n}"}, UpdateExpression="SET padding = :p",
                              ExpressionAttributeValues={":p": PADDING})
        first = table.query(KeyConditionExpression="pk = :u", ExpressionAttributeValues={":u": "USER#u1"})
        assert "LastEvaluatedKey" in first and len(first["Items"]) < 4  # the premise: one call is not all
        assert len(store.list_positions("u1")) == 4


def test_list_withdrawals_reads_every_page() -> None:
    with moto_table() as table:
        paged = ShortPages(table)
        store = DynamoWithdrawalStore(paged)
        for n in range(5):
            store.create_withdrawal(_withdrawal(n))
        assert store.list_withdrawals("u1") == [_withdrawal(n) for n in (4, 3, 2, 1, 0)]
        assert paged.queries == 3


def test_recent_snapshots_reads_every_page() -> None:
    with moto_table() as table:
        paged = ShortPages(table)
        store = DynamoStateStore(paged, Clock())
        snapshots = [RatesSnapshot(at=T0 + timedelta(minutes=n), source="test", sol_price_usd=Decimal(150 + n),
                                   funding=FundingQuote(Decimal("0.0000125"), None, Decimal(150), Decimal(150)),
                                   markets=()) for n in range(5)]
        for snapshot in snapshots:
            store.put_snapshot(snapshot)
        assert store.recent_snapshots(T0) == snapshots
        assert paged.queries == 3


@pytest.mark.parametrize(("limit", "expected"), [(200, ["a4", "a3", "a2", "a1", "a0"]), (3, ["a4", "a3", "a2"])])
def test_audit_entries_fill_their_limit_across_pages(limit: int, expected: list[str]) -> None:
    with moto_table(resources.SESSIONS_TABLE) as table:
        clock = Clock()
        audit = DynamoAuditTrail(ShortPages(table), clock)
        for n in range(5):
            clock.now = T0 + timedelta(minutes=n)
            audit.record(f"a{n}", user_id="u1", client="1.2.3.4", detail={})
        assert [e["action"] for e in audit.entries(T0.date().isoformat(), limit)] == expected
