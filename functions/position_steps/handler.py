"""Step Functions task: one step of the open or close workflow. Input {"step", "state"}; returns the new state."""

from typing import Any

from dnbot.observability import logger, tracer
from dnbot.runtime import lambda_runtime


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = event["state"]
    logger.append_keys(step=event["step"], position_id=state.get("position_id"), job_id=state.get("job_id"))
    return lambda_runtime().steps.run(event["step"], state)
