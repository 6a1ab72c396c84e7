"""HTTP API: the FastAPI app behind API Gateway (HTTP API, payload v2), through Mangum."""

from typing import Any

from mangum import Mangum

from dnbot.api.app import create_app
from dnbot.observability import logger, tracer
from dnbot.runtime import lambda_runtime

_asgi = Mangum(create_app(lambda_runtime()), lifespan="off")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _asgi(event, context)
