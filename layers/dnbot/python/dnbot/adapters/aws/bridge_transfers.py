"""CCTP bridge transfers in the state table (USER#<id> / BRIDGE#<transfer_id>, docs/bridge.md section 5): created
with a conditional put before anything is sent, saved only over the version the writer read. A record not final,
or credited with its Solana event account's rent still to reclaim, is also in gsi1's BRIDGE#UNFINISHED partition
(the reconciler's round visits its user)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from dnbot.adapters.aws.dynamodb import UNFINISHED_BRIDGE_KEY
from dnbot.adapters.aws.paging import query_all
from dnbot.domain.bridge import FINAL, BridgeDirection, BridgeState, BridgeTransfer, rent_to_reclaim
from dnbot.ports import BridgeTransferConflict, BridgeTransferExists

_TIMES = ("created_at", "updated_at", "burned_at", "reattested_at", "credited_at", "rent_reclaimed_at")
_AMOUNTS = ("amount_usd", "max_fee_usd", "fee_executed_usd", "minted_usd")
_INTS = ("source_domain", "destination_domain", "version", "evm_nonce")
_TEXTS = ("transfer_id", "user_id", "position_id", "mint_recipient", "signed_burn", "event_account", "burn_tx",
          "message", "attestation", "cctp_nonce", "mint_tx", "error", "signed_reclaim", "reclaim_tx",
          "reclaim_error")


def _key(user_id: str, transfer_id: str) -> dict[str, str]:
    return {"pk": f"USER#{user_id}", "sk": f"BRIDGE#{transfer_id}"}


def _item(t: BridgeTransfer) -> dict[str, Any]:
    item: dict[str, Any] = {**_key(t.user_id, t.transfer_id), "type": "bridge_transfer",
                            "direction": t.direction.value, "state": t.state.value}
    item.update({name: getattr(t, name) for name in _AMOUNTS + _INTS + _TEXTS})
    item.update({name: value.astimezone(UTC).isoformat() for name in _TIMES
                 if (value := getattr(t, name)) is not None})
    if t.state not in FINAL or rent_to_reclaim(t):  # in the sparse index until done: the reconciler's round
        # finds its user (a save replaces the whole item, so a final record leaves the index; a credited Solana
        # burn only once its event account's rent is back, or cannot come back)
        item.update(gsi1pk=UNFINISHED_BRIDGE_KEY, gsi1sk=f"{t.user_id}#{t.transfer_id}")
    return {k: v for k, v in item.items() if v is not None}


def _transfer(item: dict[str, Any]) -> BridgeTransfer:
    fields: dict[str, Any] = {name: item.get(name) for name in _TEXTS}
    fields.update({name: None if name not in item else Decimal(str(item[name])) for name in _AMOUNTS})
    fields.update({name: None if name not in item else int(item[name]) for name in _INTS})
    fields.update({name: None if name not in item else datetime.fromisoformat(item[name]) for name in _TIMES})
    return BridgeTransfer(direction=BridgeDirection(item["direction"]), state=BridgeState(item["state"]), **fields)


def _conditional_put(table: Any, item: dict[str, Any], condition: Any) -> bool:
    try:
        table.put_item(Item=item, ConditionExpression=condition)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


class DynamoBridgeTransferStore:
    """Implements BridgeTransferStore."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def create(self, record: BridgeTransfer) -> None:
        if not _conditional_put(self._table, _item(record), Attr("pk").not_exists()):
            raise BridgeTransferExists(f"bridge transfer {record.transfer_id} already exists")

    def get(self, user_id: str, transfer_id: str) -> BridgeTransfer | None:
        item = self._table.get_item(Key=_key(user_id, transfer_id), ConsistentRead=True).get("Item")
        return None if item is None else _transfer(item)

    def save(self, record: BridgeTransfer) -> None:
        if not _conditional_put(self._table, _item(record), Attr("version").eq(record.version - 1)):
            raise BridgeTransferConflict(f"bridge transfer {record.transfer_id}: the stored version is not "
                                         f"{record.version - 1} (another writer saved it, or it was never created)")

    def list_for_user(self, user_id: str) -> list[BridgeTransfer]:
        """Every bridge transfer of the user, oldest first (every page of the Query)."""
        condition = Key("pk").eq(f"USER#{user_id}") & Key("sk").begins_with("BRIDGE#")
        return sorted((_transfer(i) for i in query_all(self._table, KeyConditionExpression=condition)),
                      key=lambda t: (t.created_at, t.transfer_id))
