"""`dnbot local`'s live push: the deployed WebSocket protocol, served by this process at `/live`.

In AWS, API Gateway's WebSocket API calls `ws_connections` on $connect/$disconnect, the state table's stream
invokes `ws_broadcast`, and the broadcaster posts to each connection through the management API. Here the very
same services run: the upgrade is accepted as `ws_connections`' $connect accepts it (anyone: the public rate
updates; with a valid session cookie: that user's own updates too, `AuthService.viewer`) and recorded through
`LiveUpdates.connect`; a pump reads the in-process DynamoDB stream and invokes `ws_broadcast` with the records;
`LocalSockets` is the ConnectionPusher that writes to the open sockets.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from dnbot.runtime import Runtime

logger = logging.getLogger(__name__)
PUSH_TIMEOUT_S = 2.0


class LocalSockets:
    """Implements ConnectionPusher for the sockets this process holds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: dict[str, tuple[WebSocket, asyncio.AbstractEventLoop]] = {}

    def add(self, connection_id: str, socket: WebSocket, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._sockets[connection_id] = (socket, loop)

    def remove(self, connection_id: str) -> None:
        with self._lock:
            self._sockets.pop(connection_id, None)

    def count(self) -> int:
        with self._lock:
            return len(self._sockets)

    def push(self, connection_id: str, message: dict[str, Any]) -> bool:
        with self._lock:
            held = self._sockets.get(connection_id)
        if held is None:
            return False
        socket, loop = held
        try:
            asyncio.run_coroutine_threadsafe(socket.send_json(message), loop).result(PUSH_TIMEOUT_S)
        except Exception:  # closed, or the loop is gone: the connection is gone
            self.remove(connection_id)
            return False
        return True


def _same_origin(socket: WebSocket) -> bool:
    """Browsers always send Origin on a WebSocket upgrade: a page from another site may not ride the cookie."""
    origin = socket.headers.get("origin")
    if origin is None:
        return True  # not a browser (a CLI or a test client): the cookie is what authenticates it
    return urlsplit(origin).netloc == socket.headers.get("host", "")


def live_route(runtime_of: Callable[[], Runtime], sockets: LocalSockets) -> WebSocketRoute:
    async def live(socket: WebSocket) -> None:
        runtime = runtime_of()
        # As on AWS, where the session cookie is SameSite=Strict: a page from another site connects without it,
        # as anyone (public updates only); a missing, unknown or expired session is anyone too.
        cookie = socket.headers.get("cookie", "") if _same_origin(socket) else ""
        user_id = await run_in_threadpool(runtime.auth.viewer, cookie)
        await socket.accept()
        connection_id = uuid.uuid4().hex
        sockets.add(connection_id, socket, asyncio.get_running_loop())
        await run_in_threadpool(runtime.live_updates.connect, connection_id, user_id)  # None: public updates only
        await socket.send_json({"type": "hello", "data": {"connection_id": connection_id}})
        try:
            while True:
                await socket.receive_text()  # the dashboard sends nothing but keep-alive pings
        except WebSocketDisconnect:
            pass
        finally:
            sockets.remove(connection_id)
            await run_in_threadpool(runtime.live_updates.disconnect, connection_id)

    return WebSocketRoute("/live", live)


def _plain(value: Any) -> Any:
    """The stream record as Lambda receives it (JSON): datetimes become epoch seconds."""
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class StreamPump:
    """Reads the state table's stream (what AWS's event source mapping does) and invokes `ws_broadcast`."""

    def __init__(self, streams: Any, table_arn_stream: str, invoke: Callable[[dict[str, Any]], Any],
                 interval_s: float = 0.2) -> None:
        self._streams = streams
        self._stream_arn = table_arn_stream
        self._invoke = invoke
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        shard = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]["Shards"][0]
        iterator = self._streams.get_shard_iterator(StreamArn=self._stream_arn, ShardId=shard["ShardId"],
                                                    ShardIteratorType="LATEST")["ShardIterator"]
        self._thread = threading.Thread(target=self._run, args=(iterator,), name="dnbot-stream", daemon=True)
        self._thread.start()

    def _run(self, iterator: str) -> None:
        while not self._stop.wait(self._interval):
            try:
                reply = self._streams.get_records(ShardIterator=iterator, Limit=200)
                iterator = reply["NextShardIterator"]
                if reply["Records"]:
                    self._invoke({"Records": _plain(reply["Records"])})
            except Exception:  # a broadcast that fails costs the dashboard one polling interval, never the pump
                logger.exception("live updates: could not forward stream records")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
