"""Powertools logging, metrics and tracing, shared by every handler (configured by POWERTOOLS_* variables).

Custom metrics (CloudWatch EMF, namespace `dnbot`, dimension service=dnbot) have their names here, so the code
that emits one and the alarm or dashboard widget that reads it (infra/dnbot_stack.py) cannot drift apart.
Handlers decorated with `@metrics.log_metrics` add to `metrics`; code deeper down (services, steps) calls
`record(...)`, which flushes one metric at once and never raises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = "dnbot"
SERVICE = "dnbot"
# The dimension Powertools adds to every metric: alarms must name it to match the emitted series.
METRIC_DIMENSIONS = {"service": SERVICE}

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# Built on first use (module __getattr__ below): Powertools' Tracer loads the X-Ray SDK, ~350 ms of a cold start.
# The light functions never touch it: Lambda's active tracing records their segments without any SDK; only the
# functions that import `tracer` (the trading steps, restored from a SnapStart snapshot) pay for it.
if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

    tracer: Tracer

# --- metric names (Count unless noted) ---
RATES_POLLED = "RatesPolled"  # a rates snapshot was stored (the poller)
POSITIONS_OPENED = "PositionsOpened"  # opens the tick started
POSITIONS_CLOSED = "PositionsClosed"  # closes the tick started
TICK_USER_ERRORS = "TickUserErrors"
POSITION_NEEDS_ATTENTION = "PositionNeedsAttention"  # a position moved to needs_attention
RECONCILER_DRIFT = "ReconcilerDrift"  # the reconciler found a venue disagreeing with the table
POSITIONS_OPEN = "PositionsOpen"  # gauge: positions open now (the tick)
CAPITAL_DEPLOYED_USD = "CapitalDeployedUsd"  # gauge, USD (None unit): capital in open positions (the tick)
FUNDING_EARNED_USD = "FundingEarnedUsd"  # USD realized funding, summed per day on the dashboard
NOTIFICATIONS_SENT = "NotificationsSent"
NOTIFICATIONS_FAILED = "NotificationsFailed"


def record(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    """Emit one metric now (EMF on stdout). Observability must never fail the caller."""
    try:
        with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE,
                           default_dimensions=METRIC_DIMENSIONS):
            pass
    except Exception:  # a metric is worth less than the step that emits it
        logger.exception("could not emit metric %s", name)


def __getattr__(name: str) -> Any:
    if name == "tracer":
        from aws_lambda_powertools import Tracer

        built = globals()["tracer"] = Tracer(service=SERVICE)
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
