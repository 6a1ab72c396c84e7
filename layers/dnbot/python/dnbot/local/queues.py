"""Drives the SQS-consuming functions as Lambda's event source mapping does (moto's SQS never invokes Lambda).

For each queue of resources.QUEUES: receive up to `batch_size` messages, invoke the consumer's handler with the
SQS event Lambda would send, delete what succeeded, and leave the reported `batchItemFailures` to come back after
the visibility timeout (and into the dead-letter queue after `max_receives`), as in AWS.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from dnbot import resources
from dnbot.local.functions import LocalFunctions

logger = logging.getLogger(__name__)


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""),
        "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region} for m in messages]}


class LocalQueueRunner:
    def __init__(self, sqs: Any, queue_urls: dict[str, str], functions: LocalFunctions, region: str = "us-east-1",
                 on_error: Callable[[str, Exception], None] | None = None) -> None:
        self._sqs = sqs
        self._urls = queue_urls  # QueueSpec.logical_id -> URL
        self._functions = functions
        self._region = region
        self._on_error = on_error
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy: dict[str, bool] = {}
        self.handled = 0  # messages done
        self.failed = 0  # messages a consumer reported as failed (they come back, then go to the DLQ)

    def poll_once(self, spec: resources.QueueSpec, wait_seconds: int = 0) -> int:
        """One receive-invoke-delete round; returns how many messages it handled."""
        url = self._urls[spec.logical_id]
        received = self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=spec.batch_size,
                                             WaitTimeSeconds=wait_seconds, AttributeNames=["All"])
        messages = received.get("Messages", [])
        if not messages:
            return 0
        self._busy[spec.logical_id] = True
        try:
            arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            reply = self._functions.invoke(spec.consumer, sqs_event(messages, arn, self._region)) or {}
            failed = {f["itemIdentifier"] for f in reply.get("batchItemFailures", [])}
            done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages) if m["MessageId"] not in failed]
            if done:
                self._sqs.delete_message_batch(QueueUrl=url, Entries=done)
            self.handled += len(done)
            self.failed += len(failed)
        finally:
            self._busy[spec.logical_id] = False
        return len(messages)

    def _loop(self, spec: resources.QueueSpec) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(spec, wait_seconds=1)
            except Exception as error:  # the whole batch failed (as an unhandled handler error in Lambda)
                logger.exception("queue %s consumer failed", spec.logical_id)
                if self._on_error:
                    self._on_error(spec.consumer, error)
                self._stop.wait(1)

    def start(self) -> None:
        for spec in resources.QUEUES:
            thread = threading.Thread(target=self._loop, args=(spec,), name=f"queue-{spec.logical_id}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Until no message is visible and no batch is being handled (what a test waits for after a tick)."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            visible = sum(int(self._sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
                ["ApproximateNumberOfMessages"]) for url in self._urls.values())
            if visible == 0 and not any(self._busy.values()):
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 0.3:  # a page message enqueues its followers while handled
                    return
            else:
                quiet_since = None
            time.sleep(0.05)
        raise TimeoutError(f"queues still busy after {timeout} s")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
