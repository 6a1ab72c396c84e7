"""What the stack costs per month for 100, 1,000 and 10,000 users: `.venv/bin/python infra/cost_model.py`.

The fixed part comes from the stack itself: every scheduled function's rate and memory (dnbot.resources), the
state transitions of an open and a close (walked from dnbot.workflows.definitions), the dashboard's polling
intervals (frontend/src/api/hooks.ts) and the alarms and metrics the stack creates. What users do is an
assumption, stated in USAGE; prices are AWS's us-east-1 list prices (x86 Lambda, on-demand DynamoDB, Standard
workflows), without the free tier. docs/operations.md holds this script's output.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

INFRA_DIR = Path(__file__).resolve().parent
REPO_ROOT = INFRA_DIR.parent
sys.path.insert(0, str(REPO_ROOT / "layers" / "dnbot" / "python"))

from dnbot import resources  # noqa: E402
from dnbot.workflows import definitions  # noqa: E402

MINUTES_PER_MONTH = 30 * 24 * 60
USER_COUNTS = (100, 1_000, 10_000)


@dataclass(frozen=True)
class Prices:  # USD, us-east-1 list prices
    lambda_gb_second: float = 0.0000166667
    lambda_request: float = 0.20 / 1e6
    state_transition: float = 0.025 / 1000
    dynamodb_write_unit: float = 0.625 / 1e6
    dynamodb_read_unit: float = 0.125 / 1e6
    http_api_request: float = 1.00 / 1e6
    websocket_message: float = 1.00 / 1e6
    sqs_request: float = 0.40 / 1e6
    cloudfront_request: float = 0.01 / 10_000
    cloudfront_gb: float = 0.085
    logs_gb: float = 0.50
    custom_metric: float = 0.30
    alarm: float = 0.10
    dashboard: float = 3.00
    kms_key: float = 1.00
    secret: float = 0.40


@dataclass(frozen=True)
class Usage:
    """Assumptions about what one user does in a month (change them and rerun)."""

    opens_per_month: float = 2.0  # and as many closes: positions held about two weeks
    share_with_open_position: float = 0.5  # of users, at any time
    dashboard_minutes_per_day: float = 30.0
    api_ms: float = 60.0  # one API request's Lambda duration
    api_response_kb: float = 4.0
    worker_ms_per_user: float = 200.0  # one user's decision: balance and risk reads at the venues
    step_ms: float = 2_000.0  # one workflow step (venue calls)
    reconcile_ms_per_position: float = 300.0
    snapshot_ms_per_position: float = 100.0
    scheduled_base_ms: float = 400.0  # a scheduled run's fixed part (poller, tick, sweep, reconciler)
    deposit_sweep_ms_per_user: float = 20.0
    reads_per_user_decision: float = 3.0  # read request units: user, positions, settings
    writes_per_transition: float = 4.0  # position, job, activity line, stream -> ws_broadcast reads nothing
    notifications_per_open: float = 2.0  # opened + closed
    log_kb_per_invocation: float = 1.5
    log_kb_per_transition: float = 2.0  # Step Functions logs ALL events with execution data


# The dashboard's polling, requests per minute while it is open (frontend/src/api/hooks.ts).
POLL_MS = {"rates": 15_000, "positions": 5_000, "status": 5_000, "balances": 30_000, "activity": 15_000}


def dashboard_polls_per_minute(hooks: Path = REPO_ROOT / "frontend" / "src" / "api" / "hooks.ts") -> float:
    intervals = dict(POLL_MS)
    if hooks.is_file():
        for name, ms in re.findall(r"export const (\w+)_POLL_MS = ([\d_]+);", hooks.read_text()):
            if name.lower() in intervals:
                intervals[name.lower()] = int(ms.replace("_", ""))
    return sum(60_000 / ms for ms in intervals.values())


def happy_path_transitions(name: str) -> int:
    """States an execution enters when nothing fails (AWS bills each as a state transition)."""
    definition = definitions.definition_for(name)
    state, count = definition["StartAt"], 0
    while state:
        count += 1
        body = definition["States"][state]
        if body.get("End") or body["Type"] in ("Succeed", "Fail"):
            break
        state = body.get("Default") or body["Choices"][0]["Next"] if body["Type"] == "Choice" else body.get("Next")
    return count


def monthly_cost(users: int, usage: Usage = Usage(), prices: Prices = Prices()) -> dict[str, float]:
    spec = {f.name: f for f in resources.FUNCTIONS}
    open_positions = users * usage.share_with_open_position
    transitions_per_round_trip = happy_path_transitions("open_position") + happy_path_transitions("close_position")
    round_trips = users * usage.opens_per_month
    invocations: dict[str, float] = {}
    gb_seconds: dict[str, float] = {}

    def run(name: str, count: float, ms: float) -> None:
        invocations[name] = invocations.get(name, 0) + count
        gb_seconds[name] = gb_seconds.get(name, 0) + count * ms / 1000 * spec[name].memory_mb / 1024

    for name, fn in spec.items():
        if fn.schedule_minutes is None:
            continue
        runs = MINUTES_PER_MONTH / fn.schedule_minutes
        extra = {"reconciler": open_positions * usage.reconcile_ms_per_position,
                 "pnl_snapshots": open_positions * usage.snapshot_ms_per_position,
                 "deposit_sweep": users * usage.deposit_sweep_ms_per_user}.get(name, 0.0)
        run(name, runs, usage.scheduled_base_ms + extra)
    ticks = MINUTES_PER_MONTH / spec["strategy_tick"].schedule_minutes  # type: ignore[operator]
    user_decisions = ticks * users
    if "strategy_worker" in spec:  # ten messages a batch
        run("strategy_worker", user_decisions / 10, 10 * usage.worker_ms_per_user)
    steps = round_trips * transitions_per_round_trip
    run("position_steps", steps, usage.step_ms)
    api_requests = users * usage.dashboard_minutes_per_day * 30 * dashboard_polls_per_minute()
    run("api", api_requests, usage.api_ms)
    notifications = round_trips * usage.notifications_per_open
    stream_batches = round_trips * transitions_per_round_trip * usage.writes_per_transition / 10 + ticks * 3
    run("ws_broadcast", stream_batches, 100)
    if "notifier" in spec:
        run("notifier", notifications, 300)

    lambda_cost = (sum(gb_seconds.values()) * prices.lambda_gb_second
                   + sum(invocations.values()) * prices.lambda_request)
    sqs_requests = user_decisions * 0.3 + notifications * 3
    writes = ticks * 3 + round_trips * transitions_per_round_trip * usage.writes_per_transition
    reads = user_decisions * usage.reads_per_user_decision + api_requests * 2 + steps * 4
    logs_gb = (sum(invocations.values()) * usage.log_kb_per_invocation
               + steps * usage.log_kb_per_transition) / 1e6
    alarms = 4 + 2 * len(spec) + 2 * len(resources.STATE_MACHINES) + 3 + 2 + 4  # see infra/dnbot_stack.py
    return {
        "Lambda": lambda_cost,
        "Step Functions": steps * prices.state_transition,
        "DynamoDB": writes * prices.dynamodb_write_unit + reads * prices.dynamodb_read_unit,
        "API Gateway": api_requests * prices.http_api_request + notifications * prices.websocket_message * 10,
        "CloudFront": api_requests * (prices.cloudfront_request + usage.api_response_kb / 1e6 * prices.cloudfront_gb),
        "SQS": sqs_requests * prices.sqs_request,
        "CloudWatch": (logs_gb * prices.logs_gb + 15 * prices.custom_metric + alarms * prices.alarm
                       + prices.dashboard),
        "KMS, Secrets Manager": 2 * prices.kms_key + prices.secret,
    }


def markdown(usage: Usage = Usage()) -> str:
    costs = {n: monthly_cost(n, usage) for n in USER_COUNTS}
    lines = ["| service | " + " | ".join(f"{n:,} users" for n in USER_COUNTS) + " |",
             "|---|" + "---:|" * len(USER_COUNTS)]
    for service in costs[USER_COUNTS[0]]:
        lines.append(f"| {service} | " + " | ".join(f"${costs[n][service]:,.2f}" for n in USER_COUNTS) + " |")
    lines.append("| **total per month** | " + " | ".join(f"**${sum(costs[n].values()):,.2f}**" for n in USER_COUNTS)
                 + " |")
    lines.append("| per user | " + " | ".join(f"${sum(costs[n].values()) / n:,.3f}" for n in USER_COUNTS) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(f"open: {happy_path_transitions('open_position')} transitions, close: "
          f"{happy_path_transitions('close_position')}; dashboard: {dashboard_polls_per_minute():.0f} requests/min")
    print(markdown())
