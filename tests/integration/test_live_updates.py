"""WebSocket handlers: $connect remembers the user from the session cookie; stream changes reach their audience.
`dnbot local`'s own `/live` admits connections the way $connect does (anyone: public rates; a session: its own)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from boto3.dynamodb.types import TypeSerializer
from websockets.sync.client import ClientConnection, connect

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


def _live(system: LocalSystem, headers: dict[str, str]) -> ClientConnection:
    socket = connect(f"ws://{urlsplit(system.url).netloc}/live", additional_headers=headers, open_timeout=10)
    hello = json.loads(socket.recv(timeout=10))
    assert hello["type"] == "hello", hello
    return socket


def _until_rates_at(socket: ClientConnection, at: str) -> list[dict[str, Any]]:
    """Every message up to the rates update stamped `at` (pushed after the position: the broadcast is in order)."""
    seen: list[dict[str, Any]] = []
    while not seen or not (seen[-1]["type"] == "rates" and seen[-1]["data"]["at"] == at):
        seen.append(json.loads(socket.recv(timeout=10)))
    return seen


def test_dnbot_local_live_admits_anyone_for_rates_and_a_session_for_its_own_updates(
        system: LocalSystem, terminal: Terminal) -> None:
    """The same audience as ws_connections' $connect on AWS: anonymous, an unknown session and a page from another
    site (its SameSite=Strict cookie not sent there) get the public rates, never a user's position; the session's
    own connection gets its position too."""
    assert system.runtime is not None and system.sockets is not None
    system.runtime.override(pusher=system.sockets)  # the sockets `dnbot local` holds (a test above recorded)
    dave: Client = log_in(system, terminal, "dave@example.com")
    cookie = f"dnbot_session={dave.http.cookies['dnbot_session']}"
    dave_id = dave.get("/api/v1/auth/me").json()["user"]["user_id"]
    own = _live(system, {"Cookie": cookie})
    anonymous = _live(system, {})
    unknown = _live(system, {"Cookie": "dnbot_session=" + "x" * 43})
    cross_site = _live(system, {"Cookie": cookie, "Origin": "http://attacker.example"})
    stored = set(system.runtime.store.connections(dave_id))
    assert len(stored) == 1 and len(set(system.runtime.store.connections())) >= 4

    at = "2031-01-01T00:00:00+00:00"
    system.functions.invoke("ws_broadcast", _stream_event(
        {"pk": f"USER#{dave_id}", "sk": "POSITION#p-live", "type": "position", "user_id": dave_id,
         "position_id": "p-live", "status": "open", "asset": "SOL", "protocol": "kamino"},
        {"pk": "RATES", "sk": "LATEST", "type": "rates", "at": at, "funding": {}},
    ))
    assert any(m["type"] == "position" and m["data"]["position_id"] == "p-live" for m in _until_rates_at(own, at))
    for socket in (anonymous, unknown, cross_site):
        received = _until_rates_at(socket, at)
        assert not [m for m in received if m["type"] != "rates"], received  # nobody's position, job or activity
    for socket in (own, anonymous, unknown, cross_site):
        socket.close()
