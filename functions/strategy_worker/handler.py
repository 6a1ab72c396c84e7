"""SQS (the tick's fan-out): one message per running user, page of users, or position to close under close-all.

Partial batch failures: a message that raises is reported alone and comes back (at most QueueSpec.max_receives
times, then the dead-letter queue); the others of its batch are done.
"""

import json
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from dnbot.observability import POSITIONS_CLOSED, POSITIONS_OPENED, TICK_USER_ERRORS, logger, metrics
from dnbot.runtime import lambda_runtime

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> dict[str, Any]:
    outcome = lambda_runtime().tick_worker.handle(json.loads(record.body))
    logger.info("fan-out message done", extra={"outcome": asdict(outcome)})
    metrics.add_metric(name=POSITIONS_OPENED, unit=MetricUnit.Count, value=len(outcome.opened))
    metrics.add_metric(name=POSITIONS_CLOSED, unit=MetricUnit.Count, value=len(outcome.closed))
    return asdict(outcome)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    reply = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                     context=context)
    metrics.add_metric(name=TICK_USER_ERRORS, unit=MetricUnit.Count, value=len(reply.get("batchItemFailures", [])))
    return dict(reply)
