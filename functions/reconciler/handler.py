"""EventBridge, every 2 minutes: compare the venues with the ledger for every user with live or recently failed
positions; close orphan legs or restore the hedge, record the drift, alert the operator."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from dnbot.observability import logger, metrics
from dnbot.runtime import lambda_runtime


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = lambda_runtime().reconciler.run(lambda: context.get_remaining_time_in_millis() / 1000)
    metrics.add_metric(name="ReconcilerUsers", unit=MetricUnit.Count, value=report.users)
    metrics.add_metric(name="ReconcilerRepairs", unit=MetricUnit.Count, value=len(report.repairs))
    metrics.add_metric(name="ReconcilerUserErrors", unit=MetricUnit.Count, value=len(report.errors))
    return asdict(report)
