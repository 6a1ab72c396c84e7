"""DynamoDB stream of the state table -> WebSocket messages to the connected dashboards."""

from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source

from dnbot.observability import logger
from dnbot.runtime import lambda_runtime


@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=DynamoDBStreamEvent)
def handler(event: DynamoDBStreamEvent, context: Any) -> dict[str, int]:
    changed = [record.dynamodb.new_image for record in event.records
               if record.dynamodb is not None and record.dynamodb.new_image]
    return {"sent": lambda_runtime().live_updates.broadcast(changed)}
