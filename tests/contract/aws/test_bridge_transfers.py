"""The bridge transfer store on a moto state table: exact round trip at every state, a transfer recorded once,
saves only over the version the writer advanced from, every page of a user's list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from dnbot.adapters.aws.bridge_transfers import DynamoBridgeTransferStore
from dnbot.domain.bridge import (
    Attested,
    BridgeDirection,
    BridgeEvent,
    BridgeState,
    BridgeTransfer,
    Burned,
    BurnSigned,
    Credited,
    Minted,
    NeedsAttention,
    Reattested,
    advance,
    new_transfer,
)
from dnbot.ports import BridgeTransferConflict, BridgeTransferExists, BridgeTransferStore
from tests.contract.aws.test_dynamodb_store import T0, moto_table
from tests.contract.aws.test_query_paging import ShortPages

D = Decimal
NONCE = "0x" + "ab" * 32


def _planned(n: int = 1, direction: BridgeDirection = BridgeDirection.TO_SHORT, user_id: str = "u1",
             amount: Decimal = D("1234.567891")) -> BridgeTransfer:
    recipient = "0x" + "22" * 20 if direction is BridgeDirection.TO_SHORT else "So1UsdcAta"
    return new_transfer(user_id=user_id, position_id="p1", n=n, direction=direction, amount_usd=amount,
                        max_fee=D("0.246914"), mint_recipient=recipient, at=T0 + timedelta(minutes=n))


def _path(direction: BridgeDirection) -> list[BridgeEvent]:
    burn = (BurnSigned("AQID" * 40, event_account="EvAccount111") if direction is BridgeDirection.TO_SHORT
            else BurnSigned("0x02f8" + "00" * 100, evm_nonce=12))
    return [burn, Burned("5xSig"), Attested("0x" + "0a" * 248, "0x" + "1b" * 130, NONCE, D("0.123457")),
            Minted("0xmint", D("1234.444434")), Credited()]


@pytest.fixture
def table() -> Iterator[Any]:
    with moto_table() as t:
        yield t


@pytest.mark.parametrize("direction", list(BridgeDirection))
def test_every_state_round_trips_exactly(table: Any, direction: BridgeDirection) -> None:
    store: BridgeTransferStore = DynamoBridgeTransferStore(table)
    record = _planned(direction=direction)
    store.create(record)
    assert store.get("u1", record.transfer_id) == record
    for k, event in enumerate(_path(direction)):
        record = advance(record, event, T0 + timedelta(minutes=5 + k))
        store.save(record)
        assert store.get("u1", record.transfer_id) == record
    assert record.state is BridgeState.CREDITED and record.version == 5
    item = table.get_item(Key={"pk": "USER#u1", "sk": f"BRIDGE#{record.transfer_id}"})["Item"]
    assert item["type"] == "bridge_transfer" and item["amount_usd"] == D("1234.567891")
    assert item["burned_at"] == "2026-01-01T12:06:00+00:00" and "error" not in item  # None is not stored
    assert store.get("u1", "p1:9:to_long") is None and store.get("u2", record.transfer_id) is None


def test_a_re_attested_transfer_keeps_when_it_was_re_attested(table: Any) -> None:
    store = DynamoBridgeTransferStore(table)
    record = _planned()
    store.create(record)
    for k, event in enumerate([*_path(BridgeDirection.TO_SHORT)[:3], Reattested()]):
        record = advance(record, event, T0 + timedelta(minutes=5 + k))
        store.save(record)
    assert record.state is BridgeState.BURNED and record.attestation is None and record.cctp_nonce == NONCE
    assert store.get("u1", record.transfer_id) == record
    item = table.get_item(Key={"pk": "USER#u1", "sk": f"BRIDGE#{record.transfer_id}"})["Item"]
    assert item["reattested_at"] == "2026-01-01T12:08:00+00:00" and "attestation" not in item
    finalized = advance(record, Attested("0x" + "0c" * 248, "0x" + "1d" * 130, NONCE, D("0.123457")),
                        T0 + timedelta(minutes=9))
    store.save(finalized)
    assert store.get("u1", record.transfer_id) == finalized and finalized.reattested_at == record.reattested_at


def test_a_transfer_is_recorded_once(table: Any) -> None:
    store = DynamoBridgeTransferStore(table)
    record = _planned()
    store.create(record)
    advanced = advance(record, _path(BridgeDirection.TO_SHORT)[0], T0)
    store.save(advanced)
    with pytest.raises(BridgeTransferExists, match="p1:1:to_short"):  # a retried workflow's create
        store.create(record)
    assert store.get("u1", record.transfer_id) == advanced  # the first record, with its evidence, is kept


def test_a_save_over_a_stale_version_is_refused(table: Any) -> None:
    store = DynamoBridgeTransferStore(table)
    record = _planned()
    store.create(record)
    signed = advance(record, _path(BridgeDirection.TO_SHORT)[0], T0)
    store.save(signed)
    with pytest.raises(BridgeTransferConflict):  # a second writer that also advanced from version 0
        store.save(advance(record, NeedsAttention("lost the race"), T0))
    with pytest.raises(BridgeTransferConflict):  # the same record again: the stored one is already version 1
        store.save(signed)
    with pytest.raises(BridgeTransferConflict):  # a record at version 0 is created, never saved
        store.save(record)
    never_created = advance(_planned(n=2), _path(BridgeDirection.TO_SHORT)[0], T0)
    with pytest.raises(BridgeTransferConflict):  # saving is not an upsert
        store.save(never_created)
    assert store.get("u1", never_created.transfer_id) is None
    burned = advance(signed, Burned("5xSig"), T0)
    store.save(burned)
    assert store.get("u1", record.transfer_id) == burned


def test_list_for_user_reads_every_page(table: Any) -> None:
    paged = ShortPages(table)
    store = DynamoBridgeTransferStore(paged)
    records = [_planned(n) for n in range(5)] + [_planned(1, BridgeDirection.TO_LONG)]
    for record in records:
        store.create(record)
    store.create(_planned(7, user_id="u2"))
    table.put_item(Item={"pk": "USER#u1", "sk": "WITHDRAWAL#w1", "type": "withdrawal"})  # another record kind
    listed = store.list_for_user("u1")
    assert [r.transfer_id for r in listed] == ["p1:0:to_short", "p1:1:to_long", "p1:1:to_short", "p1:2:to_short",
                                               "p1:3:to_short", "p1:4:to_short"]
    assert listed[0] == records[0]
    assert paged.queries >= 3  # six items, two a page
    assert [r.user_id for r in store.list_for_user("u2")] == ["u2"] and store.list_for_user("u3") == []


def test_a_credited_solana_burn_stays_unfinished_until_its_event_account_rent_is_back(table: Any) -> None:
    from dnbot.adapters.aws.dynamodb import UNFINISHED_BRIDGE_KEY
    from dnbot.domain.bridge import reclaim_refused, reclaim_signed, rent_reclaimed

    store = DynamoBridgeTransferStore(table)

    def indexed(record: BridgeTransfer) -> bool:
        item = table.get_item(Key={"pk": f"USER#{record.user_id}", "sk": f"BRIDGE#{record.transfer_id}"})["Item"]
        return bool(item.get("gsi1pk") == UNFINISHED_BRIDGE_KEY)

    records = {}
    for n, direction in [(1, BridgeDirection.TO_SHORT), (2, BridgeDirection.TO_LONG), (3, BridgeDirection.TO_SHORT)]:
        record = _planned(n, direction)
        store.create(record)
        for k, event in enumerate(_path(direction)):
            record = advance(record, event, T0 + timedelta(minutes=5 + k))
            store.save(record)
        records[n] = record
    assert indexed(records[1]) and indexed(records[3])  # credited, the event account's rent still locked
    assert not indexed(records[2])  # an Arbitrum burn has no event account: final is done

    at = T0 + timedelta(days=6)
    signed = reclaim_signed(records[1], "AQID" * 30, at)
    store.save(signed)
    assert store.get("u1", signed.transfer_id) == signed and indexed(signed)
    back = rent_reclaimed(signed, "5xReclaim", at + timedelta(seconds=1))
    store.save(back)
    assert store.get("u1", back.transfer_id) == back and not indexed(back)
    assert back.reclaim_tx == "5xReclaim" and back.rent_reclaimed_at == at + timedelta(seconds=1)

    refused = reclaim_refused(records[3], "reclaim refused: InvalidDestinationMessage", at)
    store.save(refused)
    assert store.get("u1", refused.transfer_id) == refused and not indexed(refused)  # cannot be: it leaves
