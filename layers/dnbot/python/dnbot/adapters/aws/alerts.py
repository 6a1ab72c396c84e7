"""The operator's alerts on SNS (the stack's `AlertsTopic`; e-mail subscriptions from `-c alertEmail=...`).

Each alert is one SNS message: a JSON body {kind, message, user_id, position_id, detail, at}, a one-line subject
("dnbot ALERT <kind>: <message>", within SNS's 100 characters) and a `kind` message attribute subscribers may
filter on. Publishing never raises: an alert that cannot be sent is logged, and the step that raised it goes on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

SUBJECT_LIMIT = 100  # SNS: at most 100 printable ASCII characters, no line breaks


def alert_body(kind: str, message: str, *, user_id: str | None, position_id: str | None,
               detail: dict[str, Any] | None, at: datetime) -> dict[str, Any]:
    return {"kind": kind, "message": message, "user_id": user_id, "position_id": position_id,
            "detail": {k: str(v) for k, v in (detail or {}).items()}, "at": at.astimezone(UTC).isoformat()}


def alert_line(kind: str, message: str, *, user_id: str | None = None, position_id: str | None = None) -> str:
    """The alert as one terminal or log line: `ALERT <kind> user=<id> position=<id>: <message>`."""
    who = "".join(f" {name}={value}" for name, value in (("user", user_id), ("position", position_id)) if value)
    return f"ALERT {kind}{who}: {' '.join(message.split())}"


def subject_of(kind: str, message: str) -> str:
    text = "".join(c if 32 <= ord(c) < 127 else " " for c in f"dnbot ALERT {kind}: {' '.join(message.split())}")
    return text if len(text) <= SUBJECT_LIMIT else text[:SUBJECT_LIMIT - 3] + "..."


class SnsAlerts:
    """AlertSink on an SNS topic."""

    def __init__(self, sns: Any, topic_arn: str, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._sns = sns  # a boto3 SNS client
        self._topic_arn = topic_arn
        self._now = now

    def alert(self, kind: str, message: str, *, user_id: str | None = None, position_id: str | None = None,
              detail: dict[str, Any] | None = None) -> None:
        body = alert_body(kind, message, user_id=user_id, position_id=position_id, detail=detail, at=self._now())
        logger.error(alert_line(kind, message, user_id=user_id, position_id=position_id))
        try:
            self._sns.publish(TopicArn=self._topic_arn, Subject=subject_of(kind, message),
                              Message=json.dumps(body, sort_keys=True),
                              MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}})
        except Exception:  # an alert must never fail the step that raised it; the log line above stays
            logger.exception("could not publish the %s alert to %s", kind, self._topic_arn)


class LoggedAlerts:
    """AlertSink where no topic is configured: the alert is an ERROR log line (CloudWatch keeps it)."""

    def alert(self, kind: str, message: str, *, user_id: str | None = None, position_id: str | None = None,
              detail: dict[str, Any] | None = None) -> None:
        logger.error("%s %s", alert_line(kind, message, user_id=user_id, position_id=position_id),
                     json.dumps({k: str(v) for k, v in (detail or {}).items()}, sort_keys=True))
