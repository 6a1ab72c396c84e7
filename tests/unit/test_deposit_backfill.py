"""The deposit sweep's one-time backfill of its wallet list on moto: users whose wallets predate the list join it
exactly once, over several bounded runs on a large table (resuming from the kept cursor), without touching the
entries listed at wallet creation; once done, a run costs one read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dnbot.adapters.aws import deposits
from dnbot.adapters.aws.deposits import DynamoDepositLedger, wallet_registry_item
from tests.contract.aws.test_dynamodb_store import moto_table


@pytest.fixture
def table() -> Iterator[Any]:
    with moto_table() as table:
        yield table


def _wallets(table: Any, user_id: str, evm_address: str) -> None:
    table.put_item(Item={"pk": f"USER#{user_id}", "sk": "WALLETS", "type": "wallets", "solana_wallet_id": "s",
                         "solana_address": "So1", "evm_wallet_id": "e", "evm_address": evm_address})


def _listed(ledger: DynamoDepositLedger) -> dict[str, str]:
    found: dict[str, str] = {}
    cursor: str | None = None
    while True:
        page, cursor = ledger.evm_wallets_page(cursor, 7)
        for user_id, address in page:
            assert user_id not in found
            found[user_id] = address
        if cursor is None:
            return found


class CountingTable:
    def __init__(self, table: Any) -> None:
        self._table = table
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self._table, name)


def test_old_wallets_are_listed_once_over_bounded_runs(table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deposits, "BACKFILL_SCAN_PAGE", 10)  # a "large" table: 60 items, ten evaluated a page
    for i in range(20):
        _wallets(table, f"old{i:02d}", f"0xold{i:02d}")
    _wallets(table, "new", "0xnew")  # created since the list exists: listed at creation already
    table.put_item(Item=wallet_registry_item("new", "0xnew"))
    for i in range(20):  # other items the scan passes over
        table.put_item(Item={"pk": f"USER#old{i:02d}", "sk": "PROFILE", "type": "user", "evm_address": "0xprofile"})
    table.put_item(Item={"pk": "USER#nowallet", "sk": "WALLETS", "type": "wallets"})  # no EVM address: skipped

    counting = CountingTable(table)
    ledger = DynamoDepositLedger(counting)
    runs: list[int | None] = []
    while not runs or runs[-1] is not None:
        runs.append(ledger.backfill_wallet_registry(max_pages=2))
        assert len(runs) < 20
    assert sum(r for r in runs if r is not None) == 20 and len(runs) > 3  # resumed across several runs
    assert _listed(ledger) == {**{f"old{i:02d}": f"0xold{i:02d}" for i in range(20)}, "new": "0xnew"}

    counting.calls.clear()
    assert ledger.backfill_wallet_registry(max_pages=2) is None
    assert counting.calls == ["get_item"]  # done: one read a run from now on


def test_the_backfill_never_overwrites_a_listed_address(table: Any) -> None:
    _wallets(table, "u1", "0xstale")
    table.put_item(Item=wallet_registry_item("u1", "0xlisted"))
    ledger = DynamoDepositLedger(table)
    assert ledger.backfill_wallet_registry(max_pages=5) == 0
    assert _listed(ledger) == {"u1": "0xlisted"}
