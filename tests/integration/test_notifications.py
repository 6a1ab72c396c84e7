"""User notifications under `dnbot local`: a trader saves a webhook (a listener on 127.0.0.1 here) and receives a
message for an open and a close, through the state table's stream, the notification queue and the notifier."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from dnbot.local.system import LocalSystem
from tests.integration.helpers import Client, Terminal, log_in

pytestmark = pytest.mark.xdist_group("moto")

DELIVERY_SECONDS = 15  # "within seconds": the stream pump polls every 0.2 s, the queue runner every second


class Listener:
    """A Slack-like incoming webhook: records every JSON body POSTed to it; can be told to fail."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                status = listener.fail_with or 200
                if status == 200:
                    listener.bodies.append(body)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, kind: str, position_id: str | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + DELIVERY_SECONDS
        while time.monotonic() < deadline:
            for body in self.bodies:
                event = body.get("event", {})
                if event.get("kind") == kind and (position_id is None or event.get("position_id") == position_id):
                    return body
            time.sleep(0.1)
        raise AssertionError(f"no {kind} message for {position_id} within {DELIVERY_SECONDS} s: {self.bodies}")


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    hook = Listener()
    yield hook
    hook.server.shutdown()


@pytest.fixture(scope="module")
def dana(system: LocalSystem, terminal: Terminal) -> Client:
    return log_in(system, terminal, "dana@example.com")


def _delete(client: Client, path: str) -> int:
    return client.http.delete(path, headers={"X-CSRF-Token": client.csrf}).status_code


def test_save_read_and_remove_the_webhook(dana: Client, listener: Listener) -> None:
    assert dana.get("/api/v1/notifications").json() == {"webhook_url": None}
    saved = dana.post("/api/v1/notifications", {"webhook_url": listener.url})
    assert saved.status_code == 200, saved.text
    assert dana.get("/api/v1/notifications").json() == {"webhook_url": listener.url}
    assert _delete(dana, "/api/v1/notifications") == 204
    assert dana.get("/api/v1/notifications").json() == {"webhook_url": None}
    test = dana.post("/api/v1/notifications/test")
    assert test.status_code == 404 and test.json()["error"]["code"] == "no_webhook"


@pytest.mark.parametrize("url", [
    "ftp://127.0.0.1/hook", "http://10.0.0.8/hook", "https://user:secret@127.0.0.1/hook", "not a url",
    "http://169.254.169.254/latest/meta-data",
])
def test_unsafe_or_malformed_webhooks_are_refused(dana: Client, url: str) -> None:
    reply = dana.post("/api/v1/notifications", {"webhook_url": url})
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"]["code"] in {"invalid_webhook", "invalid_request"}


def test_open_and_close_each_post_a_message(system: LocalSystem, dana: Client, listener: Listener) -> None:
    assert dana.post("/api/v1/notifications", {"webhook_url": listener.url}).status_code == 200
    assert dana.post("/api/v1/notifications/test").status_code == 202
    assert listener.wait_for("test")["text"].startswith("dnbot: test message")

    opened = dana.wait_job(dana.post("/api/v1/positions/open",
                                     {"asset": "SOL", "protocol": "kamino", "size_usd": "600"}).json()["job_id"])
    assert opened["status"] == "succeeded", opened
    position_id = opened["position_id"]
    message = listener.wait_for("position_opened", position_id)
    assert message["text"].startswith("dnbot: Opened SOL long")
    assert message["event"]["position_id"] == position_id

    closing = dana.wait_job(dana.post(f"/api/v1/positions/{position_id}/close").json()["job_id"])
    assert closing["status"] == "succeeded", closing
    closed = listener.wait_for("position_closed", position_id)
    assert closed["text"].startswith("dnbot: Closed SOL")
    assert "funding_usd" in closed["event"]["detail"]
    # requests ("open_requested", "close_requested") are the trader's own clicks: not worth a message
    assert not [b for b in listener.bodies if b["event"]["kind"].endswith("_requested")]


def test_a_failing_webhook_is_reported_for_redelivery(system: LocalSystem, dana: Client,
                                                      listener: Listener) -> None:
    assert dana.post("/api/v1/notifications", {"webhook_url": listener.url}).status_code == 200
    user_id = dana.get("/api/v1/auth/me").json()["user"]["user_id"]
    message = {"user_id": user_id, "text": "dnbot: hello", "event": {"kind": "test"}}
    event = {"Records": [{"messageId": "m-1", "receiptHandle": "r", "body": json.dumps(message), "attributes": {},
                          "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                          "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:dnbot-notifications",
                          "awsRegion": "us-east-1"}]}
    listener.fail_with = 500
    try:
        # Every message of the batch failed: the invocation fails, so SQS redelivers them (then the DLQ).
        with pytest.raises(BatchProcessingError, match="webhook answered 500"):
            system.functions.invoke("notifier", event)
    finally:
        listener.fail_with = None
    assert system.functions.invoke("notifier", event)["batchItemFailures"] == []
    assert listener.bodies[-1] == {"text": "dnbot: hello", "event": {"kind": "test"}}
