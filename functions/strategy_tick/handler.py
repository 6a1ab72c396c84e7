"""EventBridge, every minute: risk checks on open positions, then entries, for every running user."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from dnbot.observability import logger, metrics
from dnbot.runtime import lambda_runtime


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = lambda_runtime().tick.run()
    metrics.add_metric(name="PositionsOpened", unit=MetricUnit.Count, value=len(report.opened))
    metrics.add_metric(name="PositionsClosed", unit=MetricUnit.Count, value=len(report.closed))
    metrics.add_metric(name="TickUserErrors", unit=MetricUnit.Count, value=len(report.errors))
    return asdict(report)
