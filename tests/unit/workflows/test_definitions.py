"""The shared state machines: every task names a real step, and no path from a placed leg skips compensation."""

from __future__ import annotations

from typing import Any

import pytest

from dnbot.services.position_steps import PositionSteps
from dnbot.workflows.definitions import STEP_FUNCTION_PLACEHOLDER, definition_for, render


def _steps(definition: dict[str, Any]) -> dict[str, str]:
    return {name: state["Parameters"]["Payload"]["step"]
            for name, state in definition["States"].items() if state["Type"] == "Task"}


@pytest.mark.parametrize("name", ["open_position", "close_position"])
def test_every_task_is_a_known_step_and_every_target_exists(name: str) -> None:
    definition = definition_for(name)
    known = {name for name in PositionSteps.__dict__ if not name.startswith("_")}
    for state_name, step in _steps(definition).items():
        assert step in known, f"{state_name} calls unknown step {step}"
    states = definition["States"]
    assert definition["StartAt"] in states
    for state in states.values():
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Catch", []) + state.get("Choices", [])]
        assert all(t in states for t in targets if t is not None)


def test_open_compensates_from_the_first_leg_on() -> None:
    states = definition_for("open_position")["States"]
    for leg_state in ("OpenLong", "OpenShort", "ValidateFills", "MarkOpen"):
        assert states[leg_state]["Catch"][0]["Next"] == "Unwind"
    assert states["Unwind"]["Catch"][0]["Next"] == "MarkNeedsAttention"
    assert "TransientVenueError" in {e for r in states["OpenShort"]["Retry"] for e in r["ErrorEquals"]}
    # nothing is placed before OpenLong, so earlier failures need no unwind
    assert states["Preflight"]["Catch"][0]["Next"] == "MarkFailed"


def test_render_substitutes_the_function() -> None:
    text = render("close_position", {STEP_FUNCTION_PLACEHOLDER: "arn:aws:lambda:x:1:function:f"})
    assert "${" not in text and "arn:aws:lambda:x:1:function:f" in text
