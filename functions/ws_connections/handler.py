"""WebSocket API $connect / $disconnect: remember who is connected (and, from the session cookie, as whom)."""

from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent, event_source

from dnbot.observability import logger
from dnbot.runtime import lambda_runtime
from dnbot.security.origin import ORIGIN_VERIFY_HEADER, origin_verified
from dnbot.services.errors import Unauthorized


@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=APIGatewayWebSocketEvent)
def handler(event: APIGatewayWebSocketEvent, context: Any) -> dict[str, Any]:
    runtime = lambda_runtime()
    connection_id = event.request_context.connection_id
    if event.request_context.route_key == "$disconnect":
        runtime.live_updates.disconnect(connection_id)
        return {"statusCode": 200}
    if not origin_verified(_header(event.headers, ORIGIN_VERIFY_HEADER), runtime.origin_verify_secret):
        return {"statusCode": 403}  # only through CloudFront: refuse the upgrade
    try:
        user, _ = runtime.auth.authenticate(_session_cookie(_header(event.headers, "cookie")))
        user_id: str | None = user.user_id
    except Unauthorized:
        user_id = None  # public updates (rates) only
    runtime.live_updates.connect(connection_id, user_id)
    return {"statusCode": 200}


def _header(headers: dict[str, str] | None, name: str) -> str:
    """API Gateway may lowercase header names."""
    return next((value for key, value in (headers or {}).items() if key.lower() == name.lower()), "")


def _session_cookie(header: str) -> str | None:
    from http.cookies import SimpleCookie

    from dnbot.api.deps import SESSION_COOKIE

    cookie = SimpleCookie(header)
    return cookie[SESSION_COOKIE].value if SESSION_COOKIE in cookie else None
