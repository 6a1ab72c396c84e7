"""WebSocket handlers: $connect remembers the user from the session cookie; stream changes reach their audience."""

from __future__ import annotations

import json
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from dnbot.local.system import METRICS_FILE, LocalSystem
from tests.integration.helpers import Client, Terminal, log_in

pytestmark = pytest.mark.xdist_group("moto")


class RecordingPusher:
    def __init__(self, gone: set[str] | None = None) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.gone = gone or set()

    def push(self, connection_id: str, message: dict[str, Any]) -> bool:
        if connection_id in self.gone:
            return False
        self.sent.append((connection_id, message))
        return True


def _connect_event(connection_id: str, route: str, cookie: str | None = None) -> dict[str, Any]:
    return {"requestContext": {"routeKey": route, "connectionId": connection_id, "eventType": "CONNECT",
                               "requestId": "r", "apiId": "a", "stage": "prod"},
            "headers": {"Cookie": cookie} if cookie else {}, "isBase64Encoded": False}


def _stream_event(*items: dict[str, Any]) -> dict[str, Any]:
    serializer = TypeSerializer()
    return {"Records": [{"eventName": "MODIFY", "eventSource": "aws:dynamodb", "dynamodb": {
        "NewImage": {k: serializer.serialize(v) for k, v in item.items()}, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
        for item in items]}


def test_position_changes_reach_only_their_owner_and_rates_reach_everyone(system: LocalSystem,
                                                                          terminal: Terminal) -> None:
    assert system.runtime is not None
    pusher = RecordingPusher(gone={"gone-1"})
    system.runtime.override(pusher=pusher)
    carol: Client = log_in(system, terminal, "carol@example.com")
    cookie = f"dnbot_session={carol.http.cookies['dnbot_session']}"
    carol_id = carol.get("/api/v1/auth/me").json()["user"]["user_id"]
    system.functions.invoke("ws_connections", _connect_event("carol-1", "$connect", cookie))
    system.functions.invoke("ws_connections", _connect_event("anon-1", "$connect"))
    system.functions.invoke("ws_connections", _connect_event("gone-1", "$connect"))

    result = system.functions.invoke("ws_broadcast", _stream_event(
        {"pk": "RATES", "sk": "LATEST", "type": "rates", "at": "2026-01-01T00:00:00+00:00", "funding": {}},
        {"pk": f"USER#{carol_id}", "sk": "POSITION#p1", "type": "position", "user_id": carol_id,
         "position_id": "p1", "status": "open", "asset": "SOL", "protocol": "kamino"},
    ))
    received = {(cid, m["type"]) for cid, m in pusher.sent}
    assert {("carol-1", "rates"), ("anon-1", "rates"), ("carol-1", "position")} <= received
    assert ("anon-1", "position") not in received
    assert result["sent"] == len(pusher.sent)
    assert "gone-1" not in system.runtime.store.connections()  # a gone connection is forgotten

    system.functions.invoke("ws_connections", _connect_event("carol-1", "$disconnect"))
    assert "carol-1" not in system.runtime.store.connections()


def test_dnbot_local_writes_the_functions_metrics_to_its_state_dir_not_the_terminal(
        system: LocalSystem, capsys: pytest.CaptureFixture[str]) -> None:
    closed = {"pk": "USER#u-metrics", "sk": "ACTIVITY#1", "type": "activity", "kind": "position_closed",
              "user_id": "u-metrics", "detail": {"funding_usd": "7.25"}}
    system.functions.invoke("ws_broadcast", _stream_event(closed))
    assert '"_aws"' not in capsys.readouterr().out
    lines = [json.loads(line) for line in (system.state_dir / METRICS_FILE).read_text().splitlines()]
    assert any(line.get("FundingEarnedUsd") == [7.25] for line in lines)
