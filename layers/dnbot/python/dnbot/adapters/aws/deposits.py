"""The deposit sweep's records in the state table (implements ports.DepositSweepLedger).

Item types (pk / sk):
    EVM_WALLETS / USER#<id>             every user's EVM address (DynamoStateStore.put_wallets writes it)
    MIGRATION  / EVM_WALLETS_BACKFILL    the one-time backfill of that list from the users' WALLETS items (written
                                        before the list existed): its scan cursor while it runs, then done
    USER#<id>  / SWEEP#OPEN              the user's open sweep: at most one (a conditional put claims it)
    USER#<id>  / SWEEP#<sent at>#<hash>  a closed sweep (credited, reverted or refused), kept as history
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from dnbot.adapters.aws.paging import query_all, query_page
from dnbot.ports import SweepRecord

WALLETS_PK = "EVM_WALLETS"
OPEN_SK = "SWEEP#OPEN"
BACKFILL_KEY = {"pk": "MIGRATION", "sk": "EVM_WALLETS_BACKFILL"}
BACKFILL_SCAN_PAGE = 1000  # items evaluated per Scan call


def wallet_registry_item(user_id: str, evm_address: str) -> dict[str, Any]:
    return {"pk": WALLETS_PK, "sk": f"USER#{user_id}", "type": "evm_wallet", "user_id": user_id,
            "evm_address": evm_address}


def _item(record: SweepRecord, sk: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": f"USER#{record.user_id}", "sk": sk, "type": "sweep", "user_id": record.user_id,
        "tx_hash": record.tx_hash, "nonce": record.nonce, "raw": record.raw, "usdc": str(record.usdc),
        "sent_at": record.sent_at.isoformat(), "status": record.status}
    if record.credit_ref:
        item["credit_ref"] = record.credit_ref
    return item


def _record(item: dict[str, Any]) -> SweepRecord:
    return SweepRecord(user_id=str(item["user_id"]), tx_hash=str(item["tx_hash"]), nonce=int(item["nonce"]),
                       raw=str(item["raw"]), usdc=Decimal(str(item["usdc"])),
                       sent_at=datetime.fromisoformat(str(item["sent_at"])), status=str(item["status"]),
                       credit_ref=item.get("credit_ref"))


class DynamoDepositLedger:
    def __init__(self, table: Any) -> None:
        self._table = table

    def evm_wallets_page(self, cursor: str | None, limit: int) -> tuple[list[tuple[str, str]], str | None]:
        items, after = query_page(self._table, cursor, limit, KeyConditionExpression=Key("pk").eq(WALLETS_PK))
        return [(str(i["user_id"]), str(i["evm_address"])) for i in items], after

    def backfill_wallet_registry(self, max_pages: int) -> int | None:
        """Adds the users whose wallets were created before the sweep's list existed (their USER#<id> / WALLETS
        item, no EVM_WALLETS entry); returns how many it added, or None once the backfill is done (one consistent
        GetItem on every later run). At most `max_pages` Scan pages a call: a large table is covered over several
        runs, resuming from the cursor kept on the marker. Idempotent: an entry already listed is left as it is."""
        marker = self._table.get_item(Key=BACKFILL_KEY, ConsistentRead=True).get("Item") or {}
        if marker.get("done"):
            return None
        cursor = marker.get("cursor")
        added = 0
        for _ in range(max_pages):
            kwargs: dict[str, Any] = {"FilterExpression": Attr("sk").eq("WALLETS"), "Limit": BACKFILL_SCAN_PAGE,
                                      "ProjectionExpression": "pk, evm_address"}
            if cursor:
                kwargs["ExclusiveStartKey"] = json.loads(str(cursor))
            response = self._table.scan(**kwargs)
            for item in response.get("Items", []):
                user_id = str(item["pk"]).removeprefix("USER#")
                if item.get("evm_address") and self._list_wallet(user_id, str(item["evm_address"])):
                    added += 1
            last = response.get("LastEvaluatedKey")
            if last is None:
                self._table.put_item(Item={**BACKFILL_KEY, "type": "migration", "done": True, "added": added})
                return added
            cursor = json.dumps(last, default=str)
            self._table.put_item(Item={**BACKFILL_KEY, "type": "migration", "cursor": cursor})
        return added

    def _list_wallet(self, user_id: str, evm_address: str) -> bool:
        try:
            self._table.put_item(Item=wallet_registry_item(user_id, evm_address),
                                 ConditionExpression=Attr("pk").not_exists())
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False  # listed already (at wallet creation, or by an earlier page)
            raise
        return True

    def open_sweep(self, user_id: str) -> SweepRecord | None:
        item = self._table.get_item(Key={"pk": f"USER#{user_id}", "sk": OPEN_SK}, ConsistentRead=True).get("Item")
        return None if item is None else _record(item)

    def claim_sweep(self, record: SweepRecord) -> bool:
        try:
            self._table.put_item(Item=_item(record, OPEN_SK), ConditionExpression=Attr("pk").not_exists())
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def update_sweep(self, record: SweepRecord) -> None:
        if record.open:
            self._table.put_item(Item=_item(record, OPEN_SK))
            return
        history = f"SWEEP#{record.sent_at.isoformat()}#{record.tx_hash}"
        self._table.put_item(Item=_item(record, history))
        self._table.delete_item(Key={"pk": f"USER#{record.user_id}", "sk": OPEN_SK})

    def credit_refs(self, user_id: str) -> set[str]:
        condition = Key("pk").eq(f"USER#{user_id}") & Key("sk").begins_with("SWEEP#")
        return {str(i["credit_ref"]) for i in query_all(self._table, KeyConditionExpression=condition)
                if i.get("credit_ref")}
