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
    from dnbot.services.bridge_rebalance import BridgeRebalancing
    from dnbot.services.capital_balance import CapitalBalance

    definition = definition_for(name)
    known = {name for name in PositionSteps.__dict__ if not name.startswith("_")}
    # the close's capital split runs the bridge's steps (registered when a bridge is configured)
    known |= set(CapitalBalance.steps(CapitalBalance.__new__(CapitalBalance)))
    known |= set(BridgeRebalancing.steps(BridgeRebalancing.__new__(BridgeRebalancing)))
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


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def _import_every_dnbot_module() -> None:
    """Load every class a step can raise (the adapters the steps call included), so subclasses are visible."""
    import importlib
    import pkgutil

    import dnbot

    for module in pkgutil.walk_packages(dnbot.__path__, "dnbot."):
        if module.name.startswith(("dnbot.sim", "dnbot.local", "dnbot.backtest", "dnbot.cli")):
            continue
        importlib.import_module(module.name)


@pytest.mark.parametrize("name", ["open_position", "close_position"])
def test_every_retriable_error_class_is_named_where_venue_tasks_retry(name: str) -> None:
    """Step Functions matches error names exactly, not subclasses: each concrete retriable class must be listed."""
    from dnbot.ports import PositionConflict, TransientVenueError

    _import_every_dnbot_module()
    transient = {cls.__name__ for cls in {TransientVenueError, *_subclasses(TransientVenueError)}}
    conflict = {cls.__name__ for cls in {PositionConflict, *_subclasses(PositionConflict)}}
    assert "LegsStillOpen" in transient  # the walk does see the steps' own subclasses
    for state_name, state in definition_for(name)["States"].items():
        if state["Type"] != "Task":
            continue
        named = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
        assert conflict <= named, f"{state_name} does not retry {sorted(conflict - named)}"
        assert all(r.get("JitterStrategy") == "FULL" for r in state["Retry"]), state_name
        assert 0 < state["TimeoutSeconds"] <= 300, state_name
        if state_name in {"OpenLong", "OpenShort", "Unwind", "CloseShortFirst", "CloseLongSecond", "Reconcile"}:
            assert transient <= named, f"{state_name} does not retry {sorted(transient - named)}"
        assert "AmbiguousVenueError" not in named  # never retried blindly


def test_task_timeout_exceeds_the_step_function_timeout() -> None:
    from dnbot.resources import function
    from dnbot.workflows.definitions import TASK_TIMEOUT_SECONDS

    assert function("position_steps").timeout_seconds < TASK_TIMEOUT_SECONDS


def test_the_close_splits_the_capital_after_it_is_closed_and_never_fails_for_it() -> None:
    states = definition_for("close_position")["States"]
    assert states["MarkClosed"]["Next"] == "CapitalPlan"
    capital = ("CapitalPlan", "CapitalMarginOut", "CapitalMarginArrived", "CapitalBurn", "CapitalAttest",
               "CapitalMint", "CapitalDone")
    for name in capital:  # the position is closed whatever happens to the capital's transfer
        assert states[name]["Catch"][0]["Next"] == "CapitalNotMoved", name
    assert states["CapitalNotMoved"]["Next"] == "Closed" and states["CapitalNotMoved"]["Catch"][0]["Next"] == "Closed"
    assert states["Closed"]["Type"] == "Succeed"
