"""The user's activity log and the realized PnL by source of closed positions, in the state table.

Item types (pk / sk), under the user's partition so a page is one Query:
    USER#<id> / ACT#<iso at>#<rand>     one activity event (type "activity"; expires after `ttl`, if set)
    USER#<id> / PNL#<position id>       a closed or failed position's realized PnL by source
    USER#<id> / SNAP#<iso hour>#<pid>   a position's PnL by source at that hour (the charts)
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key

from dnbot.adapters.aws.paging import query_all
from dnbot.ports import ActivityEvent, ActivityPage, PnlSnapshot

logger = logging.getLogger(__name__)
MAX_PAGE = 200


def _encode_cursor(sort_key: str) -> str:
    return base64.urlsafe_b64encode(sort_key.encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        sort_key = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError) as bad:
        raise ValueError("invalid cursor") from bad
    if not sort_key.startswith("ACT#"):
        raise ValueError("invalid cursor")
    return sort_key


class DynamoActivityLog:
    """Implements ActivityLog."""

    def __init__(self, table: Any, clock: Callable[[], datetime], ttl: timedelta | None = None) -> None:
        self._table = table
        self._clock = clock
        self._ttl = ttl

    def record(self, user_id: str, kind: str, message: str, position_id: str | None = None,
               **detail: object) -> None:
        at = self._clock().astimezone(UTC)
        item: dict[str, Any] = {
            "pk": f"USER#{user_id}", "sk": f"ACT#{at.isoformat()}#{secrets.token_hex(4)}", "type": "activity",
            "user_id": user_id, "at": at.isoformat(), "kind": kind, "message": message,
        }
        if position_id:
            item["position_id"] = position_id
        if detail:
            item["detail"] = {key: str(value) for key, value in detail.items() if value is not None}
        if self._ttl is not None:
            item["expires_at"] = int((at + self._ttl).timestamp())
        try:
            self._table.put_item(Item=item)
        except Exception:  # the log is a record of what happened: losing a line must not undo the action
            logger.exception("could not record activity %s for %s", kind, user_id)

    def events(self, user_id: str, limit: int = 50, cursor: str | None = None) -> ActivityPage:
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(f"USER#{user_id}") & Key("sk").begins_with("ACT#"),
            "ScanIndexForward": False, "Limit": max(1, min(limit, MAX_PAGE)),
        }
        if cursor:
            query["ExclusiveStartKey"] = {"pk": f"USER#{user_id}", "sk": _decode_cursor(cursor)}
        response = self._table.query(**query)
        events = [ActivityEvent(at=datetime.fromisoformat(item["at"]), kind=item["kind"], message=item["message"],
                                position_id=item.get("position_id"),
                                detail=dict(item["detail"]) if item.get("detail") else None)
                  for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return ActivityPage(events, _encode_cursor(last["sk"]) if last else None)


class DynamoPnlBook:
    """Implements PnlBook."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def put_realized(self, user_id: str, position_id: str, parts: dict[str, Decimal]) -> None:
        self._table.put_item(Item={"pk": f"USER#{user_id}", "sk": f"PNL#{position_id}", "type": "pnl",
                                   "position_id": position_id, "parts": dict(parts)})

    def realized_of(self, user_id: str) -> dict[str, dict[str, Decimal]]:
        condition = Key("pk").eq(f"USER#{user_id}") & Key("sk").begins_with("PNL#")
        return {item["position_id"]: {k: Decimal(str(v)) for k, v in item["parts"].items()}
                for item in query_all(self._table, KeyConditionExpression=condition)}


class DynamoPnlSnapshots:
    """Implements PnlSnapshots: keyed by hour first, so "since" is one range Query of the user's partition."""

    def __init__(self, table: Any, ttl: timedelta | None = None) -> None:
        self._table = table
        self._ttl = ttl

    def put_snapshot(self, user_id: str, snapshot: PnlSnapshot) -> None:
        hour = snapshot.at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        item: dict[str, Any] = {"pk": f"USER#{user_id}", "sk": f"SNAP#{hour.isoformat()}#{snapshot.position_id}",
                                "type": "pnl_snapshot", "position_id": snapshot.position_id,
                                "at": snapshot.at.astimezone(UTC).isoformat(), "parts": dict(snapshot.parts)}
        if self._ttl is not None:
            item["expires_at"] = int((hour + self._ttl).timestamp())
        self._table.put_item(Item=item)

    def snapshots(self, user_id: str, since: datetime, position_id: str | None = None) -> list[PnlSnapshot]:
        start = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        condition = Key("pk").eq(f"USER#{user_id}") & Key("sk").between(f"SNAP#{start.isoformat()}", "SNAP$")
        return [PnlSnapshot(item["position_id"], datetime.fromisoformat(item["at"]),
                            {k: Decimal(str(v)) for k, v in item["parts"].items()})
                for item in query_all(self._table, KeyConditionExpression=condition)
                if position_id is None or item["position_id"] == position_id]
