"""The fault suite: scenarios against `dnbot sim` through the production adapters (tests/faults/invariant.py
measures each one). Every scenario's figure is printed at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dnbot.local.system import LocalSystem
from tests.faults.invariant import FIGURES
from tests.integration.helpers import Terminal, embedded_system


@pytest.fixture(scope="module")
def terminal() -> Terminal:
    return Terminal()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, terminal: Terminal) -> Iterator[LocalSystem]:
    """One `dnbot local` per module, every venue through its production adapter against the simulator. Its
    rebalances shrink both legs (the scenarios of that path and of its faults); test_rebalance_bridge.py runs the
    product's default, which may move USDC over the bridge instead."""
    with embedded_system(tmp_path_factory.mktemp("state"), terminal, "sim", bridge_rebalance=False) as local:
        yield local


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault suite figures")
    for scenario, report in FIGURES:
        terminalreporter.write_line(f"{scenario}: {report.figure()}")
