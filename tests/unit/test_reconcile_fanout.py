"""The reconciler's fan-out on moto's SQS, through the very Lambda handler: the scheduled run enqueues every user to
reconcile (SendMessageBatch, ten a call), the reconcile queue's consumer (the same function, an SQS event) reconciles
each user once, one per message, and a user whose venues cannot be read fails alone (partial batch failure)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from dnbot import resources
from dnbot.adapters.aws.sqs import SqsWorkQueue
from dnbot.domain.reconcile import VenueTruth
from dnbot.local.functions import LocalFunctions
from dnbot.local.queues import LocalQueueRunner
from dnbot.runtime import install, lambda_runtime
from dnbot.services.reconciler import Reconciler, ReconcilerLimits
from tests.unit.test_reconcile_service import Alerts, Clock, D, Ledger, Venues, position

USERS = 25


class CountingVenues(Venues):
    """In-sync venues that count whose truth was read (once per reconciliation), and can be down for one user."""

    def __init__(self, ledger: Ledger, down_for: str | None = None) -> None:
        super().__init__({pid: D(10) for pid in ledger.items}, {pid: D(10) for pid in ledger.items}, outside=D(0))
        self.read: list[str] = []
        self.down_for = down_for

    def venue_truth(self, user_id: str, position_ids: list[str], since: datetime) -> VenueTruth:
        if user_id == self.down_for:
            raise ConnectionError("Hyperliquid /info unreachable")
        self.read.append(user_id)
        return super().venue_truth(user_id, position_ids, since)


@dataclass
class FakeRuntime:
    """What functions/reconciler/handler.py reads from the runtime."""

    reconciler: Reconciler


class SpyingSqs:
    """moto's SQS client, counting SendMessageBatch calls."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.batches: list[int] = []

    def send_message_batch(self, **kwargs: Any) -> Any:
        self.batches.append(len(kwargs["Entries"]))
        return self._client.send_message_batch(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[SpyingSqs]:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "dnbot-test")
    with mock_aws():
        yield SpyingSqs(boto3.client("sqs", region_name="us-east-1"))
    install(None)


def _round(sqs: SpyingSqs, down_for: str | None = None) -> tuple[dict[str, Any], CountingVenues, LocalQueueRunner]:
    spec = resources.RECONCILE_QUEUE
    dlq = sqs.create_queue(QueueName=f"{spec.local_name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=spec.local_name, Attributes={"RedrivePolicy": (
        f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": "{spec.max_receives}"}}')})["QueueUrl"]
    ledger = Ledger(*(replace(position(f"p{i:02d}"), user_id=f"u{i:02d}") for i in range(USERS)))
    venues = CountingVenues(ledger, down_for)
    reconciler = Reconciler(ledger, ledger, venues, venues, venues, venues, Alerts(), Clock(),  # type: ignore[arg-type]
                            ReconcilerLimits(timedelta(minutes=45), timedelta(hours=24)), queue=SqsWorkQueue(sqs, url))
    install(FakeRuntime(reconciler))  # type: ignore[arg-type]
    functions = LocalFunctions()
    scheduled = functions.invoke("reconciler", {"source": "aws.events", "detail-type": "Scheduled Event"})
    return scheduled, venues, LocalQueueRunner(sqs, {spec.logical_id: url}, functions)


def _drain(runner: LocalQueueRunner) -> None:
    while runner.poll_once(resources.RECONCILE_QUEUE):
        pass


def test_the_scheduled_run_enqueues_every_user_and_each_is_reconciled_once(sqs: SpyingSqs) -> None:
    scheduled, venues, runner = _round(sqs)
    assert scheduled["enqueued"] == USERS
    assert sqs.batches == [10, 10, 5]  # SendMessageBatch, ten a call
    assert venues.read == []  # the scheduled run reads no venue
    _drain(runner)
    assert sorted(venues.read) == [f"u{i:02d}" for i in range(USERS)]  # each user once
    assert runner.handled == USERS and runner.failed == 0
    assert venues.trades == []  # in sync: nothing to repair


def test_a_user_whose_venues_cannot_be_read_fails_alone(sqs: SpyingSqs) -> None:
    scheduled, venues, runner = _round(sqs, down_for="u07")
    assert scheduled["enqueued"] == USERS
    _drain(runner)
    assert runner.failed == 1 and runner.handled == USERS - 1
    assert "u07" not in venues.read and len(set(venues.read)) == USERS - 1


def test_an_operator_reconciles_one_user_now(sqs: SpyingSqs) -> None:
    _, venues, _ = _round(sqs)
    report = LocalFunctions().invoke("reconciler", {"user_id": "u03"})
    assert report["users"] == 1 and report["in_sync"] == 1 and report["errors"] == {}
    assert venues.read == ["u03"]


def test_a_message_that_is_not_a_reconcile_message_is_refused(sqs: SpyingSqs) -> None:
    _round(sqs)
    with pytest.raises(ValueError, match="not a reconcile message"):
        lambda_runtime().reconciler.reconcile_message({"kind": "user", "user_id": "u01"})
