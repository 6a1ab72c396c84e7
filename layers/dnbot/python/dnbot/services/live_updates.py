"""Live updates over the WebSocket API: who is connected, and what each change of the state table tells whom.

Rates go to everybody; a position or a job goes only to its owner's connections. The dashboard also polls, so
a lost message costs a few seconds of staleness, never a wrong figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dnbot.ports import ConnectionPusher, ConnectionStore

Item = Mapping[str, Any]


def message_for(item: Item) -> tuple[dict[str, Any], str | None] | None:
    """The message a changed item becomes, and the one user it is for (None: everyone); None to skip."""
    kind = item.get("type")
    if kind == "rates" and item.get("sk") == "LATEST":
        return {"type": "rates", "data": {"at": item.get("at"), "funding": item.get("funding")}}, None
    if kind == "position":
        data = {key: item.get(key) for key in ("position_id", "status", "asset", "protocol", "failure")}
        return {"type": "position", "data": data}, str(item["user_id"])
    if kind == "activity":
        data = {key: item.get(key) for key in ("at", "kind", "message", "position_id")}
        return {"type": "activity", "data": data}, str(item["user_id"])
    if kind == "job":
        data = {key: item.get(key) for key in ("job_id", "position_id", "kind", "status", "error")}
        return {"type": "job", "data": data}, str(item["user_id"])
    return None


class LiveUpdates:
    def __init__(self, connections: ConnectionStore, pusher: ConnectionPusher) -> None:
        self._connections = connections
        self._pusher = pusher

    def connect(self, connection_id: str, user_id: str | None) -> None:
        self._connections.add_connection(connection_id, user_id)

    def disconnect(self, connection_id: str) -> None:
        self._connections.remove_connection(connection_id)

    def broadcast(self, changed_items: Iterable[Item]) -> int:
        """Push one message per changed item to its audience; forget connections that are gone."""
        sent = 0
        for item in changed_items:
            routed = message_for(item)
            if routed is None:
                continue
            message, user_id = routed
            for connection_id in self._connections.connections(user_id):
                if self._pusher.push(connection_id, message):
                    sent += 1
                else:
                    self._connections.remove_connection(connection_id)
        return sent
