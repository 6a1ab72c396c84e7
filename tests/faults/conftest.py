"""The fault suite: scenarios against `dnbot sim` through the production adapters (tests/faults/invariant.py
measures each one). Every scenario's figure is printed at the end of the run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.faults.invariant import FIGURES


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault suite figures")
    for scenario, report in FIGURES:
        terminalreporter.write_line(f"{scenario}: {report.figure()}")
