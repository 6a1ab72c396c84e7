"""`make bench`, cold starts: every Lambda's handler imported by a fresh interpreter, against its framework floor.

For each function in `dnbot.resources.FUNCTIONS` three kinds of process run, interleaved, in the same run (so the
machine's load hits them alike), and the median of ROUNDS is printed:

- floor: a bare import of the frameworks the function cannot avoid (FLOORS);
- cold import: `import handler` from functions/<name>/, what Lambda's init phase does;
- first event ready: the cold import, then what the first event builds before doing any I/O (settings, the
  modules the runtime imports lazily, the boto3 clients): the whole cold start minus the network.

The ratio cold import / floor is checked against TARGETS on CPU time (user + system of the child), which other
processes on a shared machine disturb less than wall time; both are printed.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dnbot import resources

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("DNBOT_BENCH_ROUNDS", "5"))

POWERTOOLS = "aws_lambda_powertools"
# What each function cannot avoid importing: its web framework (the API), boto3, Powertools logging/metrics.
FLOORS: dict[str, tuple[str, ...]] = {"api": ("fastapi", "mangum", "boto3", POWERTOOLS)}
DEFAULT_FLOOR = ("boto3", POWERTOOLS)
# cold import / floor, on CPU time. The trading steps are not light: they load the trading SDKs (at the
# SnapStart snapshot in AWS), so they are measured but have no target.
TARGETS: dict[str, float] = {"api": 1.3}
LIGHT_TARGET = 1.5
HEAVY = frozenset({"position_steps"})

# What the first event of each function builds (modules the runtime imports lazily, AWS clients). Functions not
# listed: the settings and the state table. The API and the steps use their SnapStart priming hook instead.
FIRST_USE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "rates_poller": (("dnbot.services.rates", "dnbot.adapters.asgard.markets", "dnbot.adapters.hyperliquid.info",
                      "dnbot.adapters.aws.dynamodb"), ("dynamodb",)),
    "strategy_tick": (("dnbot.services.tick", "dnbot.services.positions", "dnbot.adapters.aws.dynamodb",
                       "dnbot.adapters.aws.ssm", "dnbot.adapters.aws.stepfunctions", "dnbot.adapters.hyperliquid.info",
                       "dnbot.adapters.asgard.health", "dnbot.adapters.risk", "dnbot.adapters.balances",
                       "dnbot.adapters.solana.stake_pool", "dnbot.adapters.solana.rpc"),  # the LST peg's stake pools
                      ("dynamodb", "ssm", "stepfunctions")),
    "ws_connections": (("dnbot.services.auth", "dnbot.services.live_updates", "dnbot.adapters.aws.dynamodb"),
                       ("dynamodb",)),
    "ws_broadcast": (("dnbot.services.live_updates", "dnbot.adapters.aws.websocket", "dnbot.adapters.aws.dynamodb"),
                     ("dynamodb", "apigatewaymanagementapi")),
}
DEFAULT_FIRST_USE: tuple[tuple[str, ...], tuple[str, ...]] = (("dnbot.adapters.aws.dynamodb",), ("dynamodb",))

IMPORT_HANDLER = "import sys; sys.path.insert(0, sys.argv[1]); import handler\n"
FIRST_EVENT = IMPORT_HANDLER + """
import json
from dnbot import snapstart
from dnbot.runtime import lambda_runtime
if snapstart._before_snapshot:
    snapstart.run_before_snapshot()
else:
    modules, services = json.loads(sys.argv[2])
    snapstart.prime(lambda_runtime(), modules=modules, aws_services=services)
"""


@dataclass
class Samples:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def wall_ms(self) -> float:
        return statistics.median(self.wall) * 1000

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1000


def lambda_like_environment(function: str) -> dict[str, str]:
    """What Lambda sets that changes what gets imported, and no credentials: nothing may reach AWS."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": f"dnbot-{function}",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "POWERTOOLS_SERVICE_NAME": "dnbot",
        "POWERTOOLS_METRICS_NAMESPACE": "dnbot",
        "DNBOT_ENVIRONMENT": "aws",
    }


def run_once(args: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh interpreter running `args`."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{stderr[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


@dataclass
class FunctionRun:
    name: str
    floor_modules: tuple[str, ...]
    floor: Samples = field(default_factory=Samples)
    cold: Samples = field(default_factory=Samples)
    first: Samples = field(default_factory=Samples)

    @property
    def ratio(self) -> float:
        return self.cold.cpu_ms / self.floor.cpu_ms

    @property
    def target(self) -> float | None:
        return None if self.name in HEAVY else TARGETS.get(self.name, LIGHT_TARGET)


def measure(names: Sequence[str], rounds: int = ROUNDS) -> list[FunctionRun]:
    runs = [FunctionRun(name, FLOORS.get(name, DEFAULT_FLOOR)) for name in names]
    for round_ in range(rounds + 1):  # round 0 warms the bytecode caches and is dropped
        for run in runs:
            env = lambda_like_environment(run.name)
            function_dir = str(ROOT / "functions" / run.name)
            first_use = json.dumps(FIRST_USE.get(run.name, DEFAULT_FIRST_USE))
            for samples, args in ((run.floor, ["-c", "import " + ", ".join(run.floor_modules)]),
                                  (run.cold, ["-c", IMPORT_HANDLER, function_dir]),
                                  (run.first, ["-c", FIRST_EVENT, function_dir, first_use])):
                wall, cpu = run_once(args, env)
                if round_:
                    samples.wall.append(wall)
                    samples.cpu.append(cpu)
    return runs


def report(runs: Sequence[FunctionRun]) -> bool:
    """Print the table; True when every light function is within its target."""
    print(f"  cold starts: fresh interpreter per sample, median of {ROUNDS}, floor and handler interleaved "
          f"(Python {sys.version_info.major}.{sys.version_info.minor}; ms wall / ms CPU)")
    print(f"  {'function':16} {'floor':34} {'floor':>13} {'cold import':>13} {'ratio':>6} {'target':>7}  "
          f"{'first event ready':>17}")
    ok = True
    for run in runs:
        target = run.target
        verdict = "-" if target is None else ("ok" if run.ratio <= target else "OVER")
        ok = ok and verdict != "OVER"
        floor_name = "+".join("powertools" if m == POWERTOOLS else m for m in run.floor_modules)
        target_text = "-" if target is None else f"{target:.1f}x"
        print(f"  {run.name:16} {floor_name:34} {run.floor.wall_ms:5.0f} / {run.floor.cpu_ms:5.0f} "
              f"{run.cold.wall_ms:5.0f} / {run.cold.cpu_ms:5.0f} {run.ratio:5.2f}x {target_text:>5} {verdict:4} "
              f"{run.first.wall_ms:5.0f} / {run.first.cpu_ms:5.0f}")
    print("  every light function within its target" if ok else "  SOME LIGHT FUNCTION IS OVER ITS TARGET")
    return ok


def main() -> int:
    names = [spec.name for spec in resources.FUNCTIONS if (ROOT / "functions" / spec.name / "handler.py").is_file()]
    return 0 if report(measure(names)) else 1


if __name__ == "__main__":
    sys.exit(main())
