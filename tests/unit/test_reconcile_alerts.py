"""The operator's alerts (SNS on moto, the `dnbot local` terminal, the log fallback) and the reconciler's table
reads (which users to reconcile, where their longs live) on moto."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from dnbot import resources
from dnbot.adapters.asgard.references import LongReference
from dnbot.adapters.aws.alerts import LoggedAlerts, SnsAlerts, alert_line, subject_of
from dnbot.adapters.aws.bridge_transfers import DynamoBridgeTransferStore
from dnbot.adapters.aws.dynamodb import DynamoStateStore
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.bridge import BridgeDirection, BridgeState, new_transfer, rent_reclaimed
from dnbot.domain.positions import Position, PositionStatus
from dnbot.local.alerts import TerminalAlerts
from dnbot.local.cloud import create_state_table

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def _queue_on_topic(topic_arn: str) -> tuple[Any, str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns", region_name="us-east-1").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return sqs, url


def test_an_alert_is_one_sns_message_with_a_json_body_and_a_one_line_subject(aws: None) -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="dnbot-alerts")["TopicArn"]
    sqs, url = _queue_on_topic(topic)
    SnsAlerts(sns, topic, lambda: NOW).alert("liquidation", "Asgard liquidated\nthe long of p1", user_id="u1",
                                             position_id="p1", detail={"size": Decimal("4.2")})
    (delivered,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(delivered["Body"])
    assert envelope["Subject"] == "dnbot ALERT liquidation: Asgard liquidated the long of p1"
    assert envelope["MessageAttributes"]["kind"]["Value"] == "liquidation"
    assert json.loads(envelope["Message"]) == {
        "kind": "liquidation", "message": "Asgard liquidated\nthe long of p1", "user_id": "u1", "position_id": "p1",
        "detail": {"size": "4.2"}, "at": NOW.isoformat()}


def test_a_long_subject_is_cut_to_what_sns_accepts() -> None:
    subject = subject_of("drift", "x" * 300 + " é")
    assert len(subject) == 100 and subject.endswith("...") and subject.isascii()


def test_an_alert_that_cannot_be_published_does_not_fail_its_caller(aws: None,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    with caplog.at_level(logging.ERROR):
        SnsAlerts(sns, "arn:aws:sns:us-east-1:123456789012:no-such-topic").alert("drift", "lost", user_id="u1")
    assert "ALERT drift user=u1: lost" in caplog.text and "could not publish" in caplog.text


def test_without_a_topic_an_alert_is_an_error_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        LoggedAlerts().alert("unwind", "open of p2 unwound", user_id="u2", position_id="p2", detail={"a": 1})
    assert "ALERT unwind user=u2 position=p2: open of p2 unwound" in caplog.text


def test_dnbot_local_prints_one_alert_line() -> None:
    lines: list[str] = []
    alerts = TerminalAlerts(lines.append)
    alerts.alert("needs_attention", "position p3: compensation failed", user_id="u3", position_id="p3")
    assert lines == ["dnbot local: ALERT needs_attention user=u3 position=p3: position p3: compensation failed"]
    assert alerts.sent[0]["kind"] == "needs_attention"
    assert alert_line("drift", "a  b\nc") == "ALERT drift: a b c"


# --- the reconciler's reads ----------------------------------------------------------------------------------


def _position(user: str, pid: str, status: PositionStatus, updated: datetime) -> Position:
    return Position(pid, user, Asset.SOL, Protocol.DRIFT, Decimal(2), Decimal(1000), status, updated, updated)


def test_users_to_reconcile_are_those_with_live_or_recent_positions(aws: None) -> None:
    create_state_table(boto3.client("dynamodb", region_name="us-east-1"))
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(resources.STATE_TABLE.local_name)
    store = DynamoStateStore(table, lambda: NOW)
    old = NOW - timedelta(days=3)
    for user, pid, status, at in [("open-user", "a", PositionStatus.OPEN, old),
                                  ("attention-user", "b", PositionStatus.NEEDS_ATTENTION, old),
                                  ("pending-user", "c", PositionStatus.PENDING, NOW),
                                  ("recent-failure", "d", PositionStatus.FAILED, NOW - timedelta(hours=2)),
                                  ("old-failure", "e", PositionStatus.FAILED, old),
                                  ("old-close", "f", PositionStatus.CLOSED, old),
                                  ("recent-close", "g", PositionStatus.CLOSED, NOW - timedelta(minutes=5))]:
        store.create_position(_position(user, pid, status, at))
    assert store.user_ids_to_reconcile(NOW - timedelta(hours=24)) == [
        "attention-user", "open-user", "pending-user", "recent-close", "recent-failure"]

    # a transfer still moving (or stuck) keeps its user in the round however long ago they last traded, until it
    # is credited (or abandoned): the reconciler resumes it
    transfers = DynamoBridgeTransferStore(table)
    stuck = replace(new_transfer(user_id="old-close", position_id="f", n=0, direction=BridgeDirection.TO_LONG,
                                 amount_usd=Decimal(500), max_fee=Decimal("0.06"), mint_recipient="wallet",
                                 at=old), state=BridgeState.BURNED)
    transfers.create(stuck)
    assert "old-close" in store.user_ids_to_reconcile(NOW - timedelta(hours=24))
    transfers.save(replace(stuck, state=BridgeState.CREDITED, minted_usd=Decimal("499.95"),
                           version=stuck.version + 1))
    assert "old-close" not in store.user_ids_to_reconcile(NOW - timedelta(hours=24))

    # a credited Solana burn keeps its user in the round until its event account's rent is back (5 days on)
    burned = replace(new_transfer(user_id="old-failure", position_id="e", n=0, direction=BridgeDirection.TO_SHORT,
                                  amount_usd=Decimal(300), max_fee=Decimal("0.04"), mint_recipient="0xuser",
                                  at=old), state=BridgeState.CREDITED, event_account="Ev1", burned_at=old,
                     message="00" * 200, attestation="11" * 130, minted_usd=Decimal("299.97"))
    transfers.create(burned)
    assert "old-failure" in store.user_ids_to_reconcile(NOW - timedelta(hours=24))
    transfers.save(rent_reclaimed(burned, "5xReclaim", NOW))
    assert "old-failure" not in store.user_ids_to_reconcile(NOW - timedelta(hours=24))

    store.put_reference("open-user", "a", LongReference("wallet1", 3, "pda-a", open_signature="sig-a"))
    store.put_reference("open-user", "z", LongReference("wallet1", 3, "", open_signature="sig-z"))
    assert store.long_references("open-user") == {
        "a": LongReference("wallet1", 3, "pda-a", open_signature="sig-a"),
        "z": LongReference("wallet1", 3, "", open_signature="sig-z")}
    assert store.long_references("attention-user") == {}
