"""WebSocket API $connect / $disconnect: remember who is connected (and, from the session cookie, as whom)."""

from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent, event_source

from dnbot.observability import logger
from dnbot.runtime import lambda_runtime
from dnbot.security.origin import ORIGIN_VERIFY_HEADER, origin_verified


@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=APIGatewayWebSocketEvent)
def handler(event: APIGatewayWebSocketEvent, context: Any) -> dict[str, Any]:
    runtime = lambda_runtime()
    connection_id = event.request_context.connection_id
    if event.request_context.route_key == "$disconnect":
        runtime.live_updates.disconnect(connection_id)
        return {"statusCode": 200}
    if not origin_verified(event.headers.get(ORIGIN_VERIFY_HEADER, ""), runtime.origin_verify_secret):
        return {"statusCode": 403}  # only through CloudFront: refuse the upgrade
    user_id = runtime.auth.viewer(event.headers.get("cookie", ""))
    runtime.live_updates.connect(connection_id, user_id)  # None: public updates (rates) only
    return {"statusCode": 200}
