"""SQS (user notifications): POST each message to its user's webhook.

Partial batch failures: a webhook that fails is reported alone and the message comes back (at most
QueueSpec.max_receives times, then the notification dead-letter queue); the others of its batch are done.
"""

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from dnbot.observability import NOTIFICATIONS_FAILED, NOTIFICATIONS_SENT, logger, metrics
from dnbot.runtime import lambda_runtime

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> bool:
    message = json.loads(record.body)
    logger.append_keys(user_id=message.get("user_id"), position_id=(message.get("event") or {}).get("position_id"))
    delivered = lambda_runtime().notifications.deliver(message)
    if delivered:
        metrics.add_metric(name=NOTIFICATIONS_SENT, unit=MetricUnit.Count, value=1)
    return delivered


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    reply = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                     context=context)
    metrics.add_metric(name=NOTIFICATIONS_FAILED, unit=MetricUnit.Count,
                       value=len(reply.get("batchItemFailures", [])))
    return reply
