"""The sessions table (resources.SESSIONS_TABLE): everything a login touches, apart from the state table.

Only the functions that handle logins and sessions (the API, the WebSocket $connect) may read or write this table;
the poller, the tick, the workflow steps and the broadcaster have no grant on it (infra/dnbot_stack.py).

Item types (pk / sk):
    SESSION#<sha256 of the secret> / SESSION    a session; the cookie holds the secret, never stored.
                                                gsi1 = USER#<id> / <hash>: every session of a user (log out everywhere)
    OTP#<email> / OTP                           the local provider's one-time code (hashed), with its check count
    LIMIT#<scope>#<key> / W#<window start>      an abuse counter for one fixed window (ADD with a condition)
    ONCE#<kind>#<id> / ONCE                     a single-use marker (a Privy access token exchanged once)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from dnbot.adapters.aws.paging import query_all
from dnbot.ports import SessionRecord


def session_key(secret: str) -> str:
    """What the table stores for a session secret: its SHA-256 (a leaked table reveals no usable cookie)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _conditional_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


@dataclass(frozen=True, slots=True)
class LimitDecision:
    allowed: bool
    count: int  # events counted in this window (at most the limit)
    retry_after_seconds: int  # until the window ends


class DynamoSessionStore:
    """Implements SessionStore, the abuse counters (RateLimiter), single-use markers and expiring items."""

    def __init__(self, table: Any, clock: Callable[[], datetime]) -> None:
        self._table = table  # a boto3 dynamodb.Table
        self._now = clock

    # --- sessions -------------------------------------------------------------------------------------------

    def create_session(self, session: SessionRecord) -> None:
        digest = session_key(session.session_id)
        self._table.put_item(Item={
            "pk": f"SESSION#{digest}", "sk": "SESSION", "type": "session",
            "gsi1pk": f"USER#{session.user_id}", "gsi1sk": digest,
            "user_id": session.user_id, "created_at": session.created_at.astimezone(UTC).isoformat(),
            "last_seen_at": _epoch(session.last_seen_at or session.created_at),
            "csrf_token": session.csrf_token, "expires_at": _epoch(session.expires_at)},
            ConditionExpression=Attr("pk").not_exists())

    def get_session(self, session_id: str) -> SessionRecord | None:
        item = self._table.get_item(Key={"pk": f"SESSION#{session_key(session_id)}", "sk": "SESSION"},
                                    ConsistentRead=True).get("Item")
        if item is None:
            return None
        expires_at = datetime.fromtimestamp(int(item["expires_at"]), tz=UTC)
        if expires_at <= self._now():  # TTL deletion is lazy: the absolute lifetime is enforced here
            return None
        return SessionRecord(session_id, item["user_id"], datetime.fromisoformat(item["created_at"]), expires_at,
                             item["csrf_token"],
                             last_seen_at=datetime.fromtimestamp(int(item["last_seen_at"]), tz=UTC))

    def touch_session(self, session_id: str, at: datetime) -> None:
        """Record activity (the idle timeout counts from here); a session deleted meanwhile stays deleted."""
        try:
            self._table.update_item(
                Key={"pk": f"SESSION#{session_key(session_id)}", "sk": "SESSION"},
                UpdateExpression="SET last_seen_at = :at", ConditionExpression=Attr("pk").exists(),
                ExpressionAttributeValues={":at": _epoch(at)})
        except ClientError as error:
            if not _conditional_failed(error):
                raise

    def delete_session(self, session_id: str) -> None:
        self._table.delete_item(Key={"pk": f"SESSION#{session_key(session_id)}", "sk": "SESSION"})

    def delete_user_sessions(self, user_id: str) -> int:
        """Log out everywhere: every session of the user, on every device. Returns how many ended."""
        ended = 0
        sessions = Key("gsi1pk").eq(f"USER#{user_id}")
        for item in query_all(self._table, IndexName="gsi1", KeyConditionExpression=sessions):
            self._table.delete_item(Key={"pk": item["pk"], "sk": "SESSION"})
            ended += 1
        return ended

    # --- abuse counters ---------------------------------------------------------------------------------------

    def hit(self, scope: str, key: str, limit: int, window: timedelta) -> LimitDecision:
        """Count one event against `limit` per fixed window, atomically: one UpdateItem ADD whose condition
        refuses the (limit + 1)th, so parallel requests can never get more than `limit` through."""
        now = self._now()
        seconds = int(window.total_seconds())
        start = _epoch(now) // seconds * seconds
        retry_after = max(1, start + seconds - _epoch(now))
        try:
            response = self._table.update_item(
                Key={"pk": f"LIMIT#{scope}#{key}", "sk": f"W#{start}"},
                UpdateExpression="ADD #c :one SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(#c) OR #c < :limit",
                ExpressionAttributeNames={"#c": "count"},
                ExpressionAttributeValues={":one": 1, ":limit": limit, ":expires": start + seconds + 60},
                ReturnValues="UPDATED_NEW")
        except ClientError as error:
            if _conditional_failed(error):
                return LimitDecision(False, limit, retry_after)
            raise
        return LimitDecision(True, int(response["Attributes"]["count"]), retry_after)

    # --- single use -------------------------------------------------------------------------------------------

    def claim_once(self, kind: str, identifier: str, remember_until: datetime) -> bool:
        """True the first time (kind, identifier) is claimed before `remember_until`; False after."""
        now = _epoch(self._now())
        try:
            self._table.put_item(
                Item={"pk": f"ONCE#{kind}#{identifier}", "sk": "ONCE", "type": "once",
                      "expires_at": max(_epoch(remember_until), now + 1)},
                ConditionExpression=Attr("pk").not_exists() | Attr("expires_at").lte(now))
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    # --- expiring items (the local provider's one-time codes) ----------------------------------------------

    def put_expiring(self, pk: str, sk: str, attributes: dict[str, Any], expires_at: datetime) -> None:
        self._table.put_item(Item={"pk": pk, "sk": sk, **attributes, "expires_at": _epoch(expires_at)})

    def get_unexpired(self, pk: str, sk: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")
        if item is None or int(item["expires_at"]) <= _epoch(self._now()):
            return None
        return item

    def delete(self, pk: str, sk: str) -> None:
        self._table.delete_item(Key={"pk": pk, "sk": sk})

    def delete_if(self, pk: str, sk: str, attribute: str, value: Any) -> bool:
        """Delete only if `attribute` still equals `value` (one of several parallel callers wins)."""
        try:
            self._table.delete_item(Key={"pk": pk, "sk": sk}, ConditionExpression=Attr(attribute).eq(value))
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def count_use(self, pk: str, sk: str, attribute: str, limit: int) -> bool:
        """Atomically add one use to an unexpired item while it has had fewer than `limit`; False otherwise."""
        try:
            self._table.update_item(
                Key={"pk": pk, "sk": sk}, UpdateExpression="ADD #a :one",
                ConditionExpression="attribute_exists(pk) AND expires_at > :now AND "
                                    "(attribute_not_exists(#a) OR #a < :limit)",
                ExpressionAttributeNames={"#a": attribute},
                ExpressionAttributeValues={":one": 1, ":limit": limit, ":now": _epoch(self._now())})
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True


AUDIT_RETENTION = timedelta(days=400)


class DynamoAuditTrail:
    """Implements AuditTrail in the sessions table: who did what, when, from where, by day.

    AUDIT#<yyyy-mm-dd> / <iso time>#<random>: action, user_id, client, detail. Kept AUDIT_RETENTION; only the API
    writes and reads it (the operator's GET /api/v1/operator/audit)."""

    def __init__(self, table: Any, clock: Callable[[], datetime]) -> None:
        self._table = table
        self._now = clock

    def record(self, action: str, *, user_id: str | None, client: str, detail: dict[str, str]) -> None:
        import secrets

        now = self._now().astimezone(UTC)
        item: dict[str, Any] = {
            "pk": f"AUDIT#{now.date().isoformat()}", "sk": f"{now.isoformat()}#{secrets.token_hex(4)}",
            "type": "audit", "action": action, "at": now.isoformat(), "client": client[:64],
            "detail": {k: str(v)[:200] for k, v in detail.items()}, "expires_at": _epoch(now + AUDIT_RETENTION)}
        if user_id:
            item["user_id"] = user_id
        self._table.put_item(Item=item)

    def entries(self, day: str, limit: int = 200) -> list[dict[str, Any]]:
        """The day's newest `limit` entries (UTC, yyyy-mm-dd), newest first: page after page until `limit`, as a
        Query may stop at 1 MB before its Limit."""
        items = islice(query_all(self._table, KeyConditionExpression=Key("pk").eq(f"AUDIT#{day}"),
                                 ScanIndexForward=False, Limit=limit), limit)
        return [{"at": i["at"], "action": i["action"], "user_id": i.get("user_id"), "client": i["client"],
                 "detail": dict(i.get("detail", {}))} for i in items]
