"""What the texts say about each scheduled function's rate matches its schedule (dnbot.resources, which infra and
`dnbot local` run): its handler's docstring and its row in docs/architecture.md's function table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dnbot import resources

ROOT = Path(__file__).resolve().parents[2]
SCHEDULED = [spec for spec in resources.FUNCTIONS if spec.schedule_minutes is not None]


def _every(minutes: int) -> str:
    return "every minute" if minutes == 1 else f"every {minutes} minutes"


def test_every_scheduled_function_is_checked() -> None:
    assert {spec.name for spec in SCHEDULED} >= {"rates_poller", "strategy_tick", "reconciler", "pnl_snapshots"}


@pytest.mark.parametrize("spec", SCHEDULED, ids=lambda spec: spec.name)
def test_the_handler_docstring_states_the_schedule(spec: resources.FunctionSpec) -> None:
    assert spec.schedule_minutes is not None
    source = (ROOT / "functions" / spec.name / "handler.py").read_text()
    docstring = ast.get_docstring(ast.parse(source)) or ""
    assert f"EventBridge, {_every(spec.schedule_minutes)}" in docstring
    assert "every hour" not in docstring or spec.schedule_minutes == 60


@pytest.mark.parametrize("spec", SCHEDULED, ids=lambda spec: spec.name)
def test_the_architecture_table_states_the_schedule(spec: resources.FunctionSpec) -> None:
    assert spec.schedule_minutes is not None
    rows = [line for line in (ROOT / "docs" / "architecture.md").read_text().splitlines()
            if line.startswith(f"| {spec.name} |")]
    assert len(rows) == 1 and f"EventBridge, {_every(spec.schedule_minutes)}" in rows[0].split("|")[2]
