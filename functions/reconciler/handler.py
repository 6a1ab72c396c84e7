"""The reconciler, by the event's shape:
- EventBridge, every 2 minutes: enqueue every user with live or recently failed positions on the reconcile queue;
- SQS (that queue): reconcile one user per message (compare the venues with the ledger; close orphan legs or
  restore the hedge, record the drift, alert the operator), partial batch failures;
- `{"user_id": ...}` (an operator's direct invoke): reconcile that user now and return the report."""

import json
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from dnbot.observability import logger, metrics
from dnbot.runtime import lambda_runtime

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> dict[str, Any]:
    report = asdict(lambda_runtime().reconciler.reconcile_message(json.loads(record.body)))
    logger.info("user reconciled", extra={"report": report})
    metrics.add_metric(name="ReconcilerRepairs", unit=MetricUnit.Count, value=len(report["repairs"]))
    metrics.add_metric(name="ReconcilerUserErrors", unit=MetricUnit.Count, value=len(report["errors"]))
    return report


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "Records" in event:
        return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                             context=context))
    if "user_id" in event:
        return asdict(lambda_runtime().reconciler.reconcile_one(str(event["user_id"])))
    enqueued = lambda_runtime().reconciler.enqueue_round()
    metrics.add_metric(name="ReconcilerUsers", unit=MetricUnit.Count, value=enqueued.enqueued)
    return asdict(enqueued)
