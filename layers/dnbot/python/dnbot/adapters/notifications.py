"""Adapters of user notifications: the saved webhook (state table), the queue (SQS), the POST (httpx), DNS.

Item type (pk / sk): USER#<id> / NOTIFY#webhook   {webhook_url, updated_at}
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

WEBHOOK_SK = "NOTIFY#webhook"
POST_TIMEOUT_SECONDS = 5.0


class DynamoWebhookStore:
    """Implements WebhookStore."""

    def __init__(self, table: Any, clock: Callable[[], datetime]) -> None:
        self._table = table
        self._clock = clock

    def get_webhook(self, user_id: str) -> str | None:
        item = self._table.get_item(Key={"pk": f"USER#{user_id}", "sk": WEBHOOK_SK}).get("Item")
        return None if item is None else str(item["webhook_url"])

    def put_webhook(self, user_id: str, url: str) -> None:
        self._table.put_item(Item={"pk": f"USER#{user_id}", "sk": WEBHOOK_SK, "type": "webhook",
                                   "user_id": user_id, "webhook_url": url, "updated_at": self._clock().isoformat()})

    def delete_webhook(self, user_id: str) -> None:
        self._table.delete_item(Key={"pk": f"USER#{user_id}", "sk": WEBHOOK_SK})


class SqsNotifier:
    """Implements Notifier: one SQS message per notification (the notifier Lambda consumes the queue)."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def notify(self, user_id: str, text: str, event: dict[str, Any]) -> None:
        body = {"user_id": user_id, "text": text, "event": event}
        self._client.send_message(QueueUrl=self._url, MessageBody=json.dumps(body, default=str))


class HttpWebhookSender:
    """Implements WebhookSender. No redirects: a 3xx to an internal address would bypass the URL check."""

    def __init__(self, timeout_seconds: float = POST_TIMEOUT_SECONDS) -> None:
        self._timeout = timeout_seconds

    def post(self, url: str, body: dict[str, Any]) -> None:
        response = httpx.post(url, json=body, timeout=self._timeout, follow_redirects=False,
                              headers={"User-Agent": "dnbot-notifier/1"})
        if not 200 <= response.status_code < 300:
            raise WebhookRejected(f"webhook answered {response.status_code}")


class WebhookRejected(Exception):
    """The webhook did not accept the message (non-2xx); the queue retries it."""


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6)."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)})
