"""HTTP API: the FastAPI app behind API Gateway (HTTP API, payload v2), through Mangum."""

from typing import Any

from mangum import Mangum

from dnbot import snapstart
from dnbot.api.app import create_app
from dnbot.observability import logger
from dnbot.runtime import lambda_runtime

# No Powertools Tracer here (it loads the X-Ray SDK): Lambda's active tracing records the invocation. The
# runtime reads its settings and builds its clients at the first request, or before the SnapStart snapshot.
_asgi = Mangum(create_app(lambda_runtime()), lifespan="off")


@snapstart.before_snapshot
def _prime() -> None:
    snapstart.prime(lambda_runtime(), modules=(
        "dnbot.services.auth", "dnbot.services.positions", "dnbot.services.control", "dnbot.services.account",
        "dnbot.services.rates", "dnbot.adapters.aws.dynamodb", "dnbot.adapters.aws.ssm",
        "dnbot.adapters.aws.stepfunctions", "dnbot.adapters.auth.privy_token",
    ), aws_services=("dynamodb", "ssm", "stepfunctions", "secretsmanager", "kms"))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _asgi(event, context)
