"""docs/operations.md's cost table is what infra/cost_model.py computes from the stack as it is now."""

from __future__ import annotations

import importlib.util
import sys

from tests.infra.conftest import INFRA_DIR, REPO_ROOT


def _cost_model():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("dnbot_cost_model", INFRA_DIR / "cost_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_documented_cost_table_is_current() -> None:
    model = _cost_model()
    doc = (REPO_ROOT / "docs" / "operations.md").read_text()
    assert model.markdown() in doc, "rerun `.venv/bin/python infra/cost_model.py` and paste the table"


def test_costs_grow_with_users_and_transitions_come_from_the_workflows() -> None:
    model = _cost_model()
    assert model.happy_path_transitions("open_position") >= 5
    small, large = (sum(model.monthly_cost(n).values()) for n in (100, 10_000))
    assert 0 < small < large < 100 * small  # fixed costs make the per-user cost fall with scale
    assert large / 10_000 < small / 100
