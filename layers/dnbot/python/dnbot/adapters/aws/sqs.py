"""The tick's fan-out queue: SendMessageBatch, ten messages a call (the SQS maximum)."""

from __future__ import annotations

import json
from typing import Any

SQS_BATCH = 10


class SqsWorkQueue:
    """Implements WorkQueue."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send_batch(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), SQS_BATCH):
            entries = [{"Id": str(i), "MessageBody": json.dumps(m, default=str)}
                       for i, m in enumerate(messages[start:start + SQS_BATCH])]
            for _attempt in range(3):  # a batch may fail per entry (throttling): resend only those
                failed = self._client.send_message_batch(QueueUrl=self._url, Entries=entries).get("Failed", [])
                if not failed:
                    break
                failed_ids = {f["Id"] for f in failed}
                entries = [e for e in entries if e["Id"] in failed_ids]
            else:
                raise RuntimeError(f"could not enqueue {len(entries)} message(s): {failed}")
