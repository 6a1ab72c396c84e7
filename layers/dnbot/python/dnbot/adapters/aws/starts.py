"""Guards on starting workflows, on the state table: Idempotency-Key records, the per-user "open in flight" lock,
and the back-off after failed opens. Each decision is one conditional write, never a read-then-act.

Item types (pk / sk):
    IDEMPOTENCY#<user id> / KEY#<key>   a request's fingerprint and, once answered, its status + body (TTL 24 h)
    USER#<id> / OPENLOCK                the position whose open is in flight, and when the lock lapses
    USER#<id> / OPENBACKOFF             failed opens in a row, and no automatic open before `until`

Why not Powertools' idempotency utility (DynamoDBPersistenceLayer)? It keys records on a JMESPath of a Lambda
event and replays the decorated function's return value; these routes key on a client header scoped per user,
must replay an HTTP status with its body, and answer 422 / 409 in the IETF draft's terms. Those are a handful of
lines here on the same table, behind the IdempotencyStore port, where Powertools would need a wrapper translating
each of its exceptions and a second table or key layout.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from dnbot.ports import IdempotencyRecord, OpenBackoff

IDEMPOTENCY_TTL = timedelta(hours=24)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _lost(error: ClientError) -> bool:
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


class DynamoStartGuards:
    """Implements IdempotencyStore, OpenGuard and UserLease."""

    def __init__(self, table: Any, clock: Callable[[], datetime]) -> None:
        self._table = table
        self._now = clock

    # --- Idempotency-Key ------------------------------------------------------------------------------------

    @staticmethod
    def _key(scope: str, key: str) -> dict[str, str]:
        return {"pk": f"IDEMPOTENCY#{scope}", "sk": f"KEY#{key}"}

    def claim(self, scope: str, key: str, fingerprint: str, lease: timedelta) -> IdempotencyRecord | None:
        now = self._now()
        item_key = self._key(scope, key)
        fresh = (Attr("pk").not_exists() | Attr("expires_at").lte(_epoch(now))
                 | (Attr("state").eq("in_progress") & Attr("lease_until").lte(_epoch(now))
                    & Attr("fingerprint").eq(fingerprint)))
        try:
            self._table.put_item(Item={**item_key, "type": "idempotency", "fingerprint": fingerprint,
                                       "state": "in_progress", "lease_until": _epoch(now + lease),
                                       "expires_at": _epoch(now + IDEMPOTENCY_TTL)},
                                 ConditionExpression=fresh)
            return None
        except ClientError as error:
            if not _lost(error):
                raise
        item = self._table.get_item(Key=item_key, ConsistentRead=True).get("Item")
        if item is None:  # expired and deleted between the two calls: a retry claims it
            return self.claim(scope, key, fingerprint, lease)
        answered = item.get("state") == "done"
        return IdempotencyRecord(str(item["fingerprint"]), int(item["status_code"]) if answered else None,
                                 json.loads(item["body"]) if answered else None)

    def complete(self, scope: str, key: str, status_code: int, body: dict[str, Any]) -> None:
        now = self._now()
        self._table.update_item(
            Key=self._key(scope, key),
            UpdateExpression="SET #s = :done, status_code = :code, body = :body, expires_at = :exp",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":done": "done", ":code": status_code,
                                       ":body": json.dumps(body, default=str),
                                       ":exp": _epoch(now + IDEMPOTENCY_TTL)})

    def release(self, scope: str, key: str) -> None:
        try:
            self._table.delete_item(Key=self._key(scope, key), ConditionExpression=Attr("state").eq("in_progress"))
        except ClientError as error:
            if not _lost(error):
                raise

    # --- one open in flight per user -------------------------------------------------------------------------

    def _lease(self, key: dict[str, str], item_type: str, holder_attr: str, holder: str, hold: timedelta) -> bool:
        """One conditional put: the item is `holder`'s until `hold` from now, unless another holder's is live."""
        now = self._now()
        try:
            self._table.put_item(
                Item={**key, "type": item_type, holder_attr: holder, "expires_at": _epoch(now + hold)},
                ConditionExpression=(Attr("pk").not_exists() | Attr("expires_at").lte(_epoch(now))
                                     | Attr(holder_attr).eq(holder)))
            return True
        except ClientError as error:
            if not _lost(error):
                raise
            return False

    def acquire_open(self, user_id: str, position_id: str, hold: timedelta) -> str | None:
        key = {"pk": f"USER#{user_id}", "sk": "OPENLOCK"}
        if self._lease(key, "open_lock", "position_id", position_id, hold):
            return None
        item = self._table.get_item(Key=key, ConsistentRead=True).get("Item") or {}
        return str(item.get("position_id", "?"))

    def release_open(self, user_id: str, position_id: str) -> None:
        try:
            self._table.delete_item(Key={"pk": f"USER#{user_id}", "sk": "OPENLOCK"},
                                    ConditionExpression=Attr("position_id").eq(position_id))
        except ClientError as error:
            if not _lost(error):  # another open holds it now (ours had lapsed): not ours to release
                raise

    # --- per-user leases (ports.UserLease) ------------------------------------------------------------------

    def acquire_user_lease(self, scope: str, user_id: str, holder: str, hold: timedelta) -> bool:
        return self._lease({"pk": f"USER#{user_id}", "sk": f"LEASE#{scope}"}, "user_lease", "holder", holder, hold)

    def release_user_lease(self, scope: str, user_id: str, holder: str) -> None:
        try:
            self._table.delete_item(Key={"pk": f"USER#{user_id}", "sk": f"LEASE#{scope}"},
                                    ConditionExpression=Attr("holder").eq(holder))
        except ClientError as error:
            if not _lost(error):  # it lapsed and another holder took it: not ours to release
                raise

    # --- back-off after failed opens -------------------------------------------------------------------------

    def open_backoff(self, user_id: str) -> OpenBackoff | None:
        item = self._table.get_item(Key={"pk": f"USER#{user_id}", "sk": "OPENBACKOFF"}).get("Item")
        if item is None:
            return None
        return OpenBackoff(int(item["failures"]), datetime.fromtimestamp(int(item["until"]), tz=UTC))

    def record_open_failure(self, user_id: str, base: timedelta, cap: timedelta) -> OpenBackoff:
        now = self._now()
        response = self._table.update_item(
            Key={"pk": f"USER#{user_id}", "sk": "OPENBACKOFF"},
            UpdateExpression="SET #t = :type ADD failures :one",
            ExpressionAttributeNames={"#t": "type"}, ExpressionAttributeValues={":type": "open_backoff", ":one": 1},
            ReturnValues="ALL_NEW")
        failures = int(response["Attributes"]["failures"])
        wait = min(cap, base * (2 ** min(failures - 1, 20)))
        until = now + wait
        self._table.update_item(Key={"pk": f"USER#{user_id}", "sk": "OPENBACKOFF"},
                                UpdateExpression="SET #u = :until", ExpressionAttributeNames={"#u": "until"},
                                ExpressionAttributeValues={":until": _epoch(until)})
        return OpenBackoff(failures, datetime.fromtimestamp(_epoch(until), tz=UTC))

    def clear_open_failures(self, user_id: str) -> None:
        self._table.delete_item(Key={"pk": f"USER#{user_id}", "sk": "OPENBACKOFF"})
