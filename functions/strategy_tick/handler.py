"""EventBridge, every minute: read the kill switch and the rates once, hand every running user to the workers."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from dnbot.observability import logger, metrics
from dnbot.runtime import lambda_runtime


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = lambda_runtime().tick.run()
    metrics.add_metric(name="TickMessagesEnqueued", unit=MetricUnit.Count, value=report.enqueued)
    metrics.add_metric(name="TickErrors", unit=MetricUnit.Count, value=len(report.errors))
    return asdict(report)
