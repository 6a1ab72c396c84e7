"""EventBridge, every 30 minutes: keep every open position's PnL by source for this hour (the dashboard's charts);
one snapshot per position and hour, which the hour's second run replaces, so a failed run leaves no hour empty."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from dnbot.observability import logger, metrics
from dnbot.runtime import lambda_runtime


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    written = lambda_runtime().portfolio.record_snapshots()
    metrics.add_metric(name="PnlSnapshotsWritten", unit=MetricUnit.Count, value=written)
    return {"snapshots": written}
