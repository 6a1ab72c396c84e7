"""Powertools logging, metrics and tracing, shared by every handler (configured by POWERTOOLS_* variables).

Custom metrics (CloudWatch EMF, namespace `dnbot`, dimension service=dnbot) have their names here, so the code
that emits one and the alarm or dashboard widget that reads it (infra/dnbot_stack.py) cannot drift apart.
Handlers decorated with `@metrics.log_metrics` add to `metrics`; code deeper down (services, steps) calls
`record(...)`, which flushes one metric at once and never raises.

Every EMF line goes through `_emit`: to stdout in Lambda (CloudWatch Logs turns it into metrics), to a file once
`send_metrics_to(path)` is called (`dnbot local`: its terminal is for the trader's lines and ALERTs).
POWERTOOLS_METRICS_DISABLED / POWERTOOLS_DEV still silence them, as Powertools documents.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

NAMESPACE = "dnbot"
SERVICE = "dnbot"
# The dimension Powertools adds to every metric: alarms must name it to match the emitted series.
METRIC_DIMENSIONS = {"service": SERVICE}

_metrics_file: Path | None = None  # None: stdout
_metrics_file_lock = threading.Lock()


def send_metrics_to(path: Path | None) -> None:
    """Append the EMF lines to `path` from now on (None: back to stdout, as in Lambda)."""
    global _metrics_file
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    _metrics_file = path


def _emit(blob: Mapping[str, Any]) -> None:
    if is_metrics_disabled():
        return
    line = json.dumps(blob, separators=(",", ":"))
    target = _metrics_file
    if target is None:
        print(line)  # what Powertools does: the Lambda runtime sends stdout to CloudWatch Logs
        return
    with _metrics_file_lock, target.open("a", encoding="utf-8") as out:
        out.write(line + "\n")


class _EmfProvider(AmazonCloudWatchEMFProvider):
    """Powertools' CloudWatch EMF provider, flushing through `_emit` instead of a bare print."""

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if not self.metric_set:
            # An invocation may rightly publish nothing (a batch whose every message failed, an operator's
            # one-user reconcile): no line and, unlike Powertools, no "No application metrics" warning. Asked to
            # raise, Powertools raises SchemaValidationError.
            if raise_on_empty_metrics:
                super().flush_metrics(raise_on_empty_metrics=True)
            return
        _emit(self.serialize_metric_set())
        self.clear_metrics()


logger = Logger(service=SERVICE)
metrics = Metrics(provider=_EmfProvider(namespace=NAMESPACE, service=SERVICE))
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
    """Emit one metric now (an EMF line of its own, see `_emit`). Observability must never fail the caller."""
    try:
        single = _EmfProvider(namespace=NAMESPACE, default_dimensions=dict(METRIC_DIMENSIONS))
        single.add_metric(name=name, unit=unit, value=value)
        single.flush_metrics()
    except Exception:  # a metric is worth less than the step that emits it
        logger.exception("could not emit metric %s", name)


def __getattr__(name: str) -> Any:
    if name == "tracer":
        from aws_lambda_powertools import Tracer

        built = globals()["tracer"] = Tracer(service=SERVICE)
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
