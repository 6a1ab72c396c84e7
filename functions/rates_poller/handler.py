"""EventBridge, every minute: read both venues' rates and store a snapshot."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from dnbot.domain.positions import PositionStatus
from dnbot.observability import POSITIONS_OPEN, RATES_POLLED, logger, metrics
from dnbot.runtime import lambda_runtime
from dnbot.services.signals import fleet_gauges


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    runtime = lambda_runtime()
    snapshot = runtime.rates.poll()
    metrics.add_metric(name=RATES_POLLED, unit=MetricUnit.Count, value=1)
    # The operator's gauges ride on the poller's minute (docs/operations.md: the dashboard).
    for name, value in fleet_gauges(runtime.store.positions_with_status(PositionStatus.OPEN)):
        metrics.add_metric(name=name, unit=MetricUnit.Count if name == POSITIONS_OPEN else MetricUnit.NoUnit,
                           value=value)
    return {"at": snapshot.at.isoformat(), "markets": len(snapshot.markets),
            "funding_hourly": str(snapshot.funding.funding_hourly)}
