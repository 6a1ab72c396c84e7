"""EventBridge, every minute: move the USDC on each user's Arbitrum address to Hyperliquid through the bridge."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from dnbot.observability import logger, metrics
from dnbot.runtime import lambda_runtime


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = lambda_runtime().deposit_sweep.run()
    metrics.add_metric(name="DepositsSwept", unit=MetricUnit.Count, value=len(report.sent))
    metrics.add_metric(name="DepositsCredited", unit=MetricUnit.Count, value=len(report.credited))
    metrics.add_metric(name="DepositSweepErrors", unit=MetricUnit.Count, value=len(report.errors))
    if report.needs_gas:
        logger.warning("deposits waiting for gas", extra={"needs_eth": report.needs_gas})
    return asdict(report)
