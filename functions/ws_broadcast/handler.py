"""DynamoDB stream of the state table -> WebSocket messages to the connected dashboards, user notifications for
new activity lines (queued for the notifier), and the operator metrics the changes imply."""

from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source

from dnbot.observability import logger
from dnbot.observability import record as emit_metric
from dnbot.runtime import lambda_runtime
from dnbot.services.signals import stream_signals


@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=DynamoDBStreamEvent)
def handler(event: DynamoDBStreamEvent, context: Any) -> dict[str, int]:
    runtime = lambda_runtime()
    changes = [(record.dynamodb.old_image or {}, record.dynamodb.new_image) for record in event.records
               if record.dynamodb is not None and record.dynamodb.new_image]
    for name, value in stream_signals(changes):
        emit_metric(name, value)
    changed = [new for _, new in changes]
    sent = runtime.live_updates.broadcast(changed)
    # A failure to queue raises: the stream retries the batch (a repeated live update is harmless).
    notified = runtime.notifications.from_stream(changes) if runtime.settings.notification_queue_url else 0
    return {"sent": sent, "notified": notified}
