"""`make bench`'s fan-out report (bench/fanout.py) holds each invocation to its own function's Lambda timeout as
dnbot.resources deploys it: the tick to strategy_tick's, a worker batch to strategy_worker's, never one fixed limit."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from dnbot import resources

BENCH = Path(__file__).resolve().parents[2] / "bench" / "fanout.py"


@pytest.fixture(scope="module")
def fanout() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_fanout", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_each_function_is_held_to_its_own_timeout(fanout: ModuleType) -> None:
    tick, worker = resources.function("strategy_tick"), resources.function("strategy_worker")
    assert tick.timeout_seconds != worker.timeout_seconds  # else this test could not tell them apart
    assert fanout.timeout_seconds(fanout.TICK) == tick.timeout_seconds
    assert fanout.timeout_seconds(fanout.WORKER) == worker.timeout_seconds
    between = (tick.timeout_seconds + worker.timeout_seconds) / 2
    shorter, longer = sorted((fanout.TICK, fanout.WORKER), key=fanout.timeout_seconds)
    assert fanout.against_timeout(shorter, between).endswith("OVER")
    assert fanout.against_timeout(longer, between).endswith("OK")
    assert fanout.against_timeout(fanout.WORKER, 1.0) == f"timeout {worker.timeout_seconds} s (strategy_worker): OK"


def test_no_fixed_limit_is_left(fanout: ModuleType) -> None:
    assert not hasattr(fanout, "LAMBDA_LIMIT_SECONDS")
    with pytest.raises(KeyError):
        fanout.timeout_seconds("no_such_function")
