"""WebSocket API $connect / $disconnect: remember who is connected (and, from the session cookie, as whom)."""

import hmac
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent, event_source

from dnbot.observability import logger
from dnbot.runtime import lambda_runtime
from dnbot.services.errors import Unauthorized

ORIGIN_VERIFY_HEADER = "x-origin-verify"  # dnbot.api.edge.ORIGIN_VERIFY_HEADER, as API Gateway lowercases it

@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=APIGatewayWebSocketEvent)
def handler(event: APIGatewayWebSocketEvent, context: Any) -> dict[str, Any]:
    runtime = lambda_runtime()
    connection_id = event.request_context.connection_id
    if event.request_context.route_key == "$disconnect":
        runtime.live_updates.disconnect(connection_id)
        return {"statusCode": 200}
    expected = runtime.origin_verify_secret  # only through CloudFront (dnbot.api.edge): else refuse the upgrade
    if expected is not None and not hmac.compare_digest(
            _header(event.headers, ORIGIN_VERIFY_HEADER).encode("utf-8", "replace"), expected.encode()):
        return {"statusCode": 403}
    try:
        user, _ = runtime.auth.authenticate(_session_cookie(_header(event.headers, "cookie")))
        user_id: str | None = user.user_id
    except Unauthorized:
        user_id = None  # public updates (rates) only
    runtime.live_updates.connect(connection_id, user_id)
    return {"statusCode": 200}


def _header(headers: dict[str, str] | None, name: str) -> str:
    return next((value for key, value in (headers or {}).items() if key.lower() == name), "")


def _session_cookie(header: str) -> str | None:
    from http.cookies import SimpleCookie

    from dnbot.api.deps import SESSION_COOKIE

    cookie = SimpleCookie(header)
    return cookie[SESSION_COOKIE].value if SESSION_COOKIE in cookie else None
