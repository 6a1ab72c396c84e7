"""EventBridge, every minute: read both venues' rates and store a snapshot."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from dnbot.observability import logger, metrics
from dnbot.runtime import lambda_runtime


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    snapshot = lambda_runtime().rates.poll()
    metrics.add_metric(name="RatesPolled", unit=MetricUnit.Count, value=1)
    return {"at": snapshot.at.isoformat(), "markets": len(snapshot.markets),
            "funding_hourly": str(snapshot.funding.funding_hourly)}
