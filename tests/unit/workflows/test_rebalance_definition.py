"""The rebalance state machine: every task names one of the rebalancer's steps, every half that can trade is
compensated, the retriable names are exact, and a lost Asgard answer is waited out before the short is sold back."""

from __future__ import annotations

from typing import Any

from dnbot.ports import PositionConflict, TransientVenueError
from dnbot.services.rebalance import PositionRebalancer
from dnbot.workflows.definitions import TASK_TIMEOUT_SECONDS, definition_for

TRADING = ("RebalanceShort", "RebalanceLong", "RebalanceRestore")


def _states() -> dict[str, Any]:
    states: dict[str, Any] = definition_for("rebalance_position")["States"]
    return states


def _subclass_names(cls: type) -> set[str]:
    found = {cls.__name__}
    sub: type
    for sub in cls.__subclasses__():
        found |= _subclass_names(sub)
    return found


def test_every_task_is_a_rebalance_step_and_every_target_exists() -> None:
    steps = set(PositionRebalancer.steps(PositionRebalancer.__new__(PositionRebalancer)))
    states = _states()
    assert definition_for("rebalance_position")["StartAt"] == "RebalancePreflight"
    for name, state in states.items():
        if state["Type"] == "Task":
            assert state["Parameters"]["Payload"]["step"] in steps, name
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Catch", []) + state.get("Choices", [])]
        assert all(t in states for t in targets if t is not None), name


def test_a_failed_half_is_compensated_and_a_failed_compensation_alerts() -> None:
    states = _states()
    for name in ("RebalanceShort", "RebalanceLong"):
        (catch,) = states[name]["Catch"]
        assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RebalanceRestore"}
    assert states["RebalanceRestore"]["Catch"][0]["Next"] == "RebalanceNeedsAttention"
    assert states["MarkRebalanced"]["Catch"][0]["Next"] == "RebalanceNeedsAttention"
    # the long's update that landed after all is recorded; a restored one closes the position instead
    choices = {c["StringEquals"]: c["Next"] for c in states["Restored"]["Choices"]}
    assert choices == {"landed": "MarkRebalanced", "undone": "CloseAfterFailure"}
    assert states["CloseAfterFailure"]["Parameters"]["Payload"]["step"] == "rebalance_close_instead"
    assert states["CloseAfterFailure"]["Next"] == "RebalanceFailed"
    started = {c["StringEquals"]: c["Next"] for c in states["Started"]["Choices"]}
    assert started == {"started": "RebalanceShort", "cannot": "CloseInstead"}
    # nothing trades before RebalanceShort: a failed preflight has nothing to undo
    assert states["RebalancePreflight"]["Catch"][0]["Next"] == "RebalanceFailed"


def test_retry_names_are_exact_with_full_jitter_and_every_task_times_out() -> None:
    from dnbot.adapters.asgard.venue import LongMayStillLand

    transient = _subclass_names(TransientVenueError)
    assert {LongMayStillLand.__name__, "RebalanceLegPending", "LegsStillOpen"} <= transient
    for name, state in _states().items():
        if state["Type"] != "Task":
            continue
        assert 0 < state["TimeoutSeconds"] <= 300 and state["TimeoutSeconds"] == TASK_TIMEOUT_SECONDS, name
        named = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
        assert all(r["JitterStrategy"] == "FULL" for r in state["Retry"]), name
        assert _subclass_names(PositionConflict) <= named, name
        assert "AmbiguousVenueError" not in named, name
        # only the step that trades nothing is rerun after any failure, and States.ALL comes alone and last
        assert ("States.ALL" in named) == (name == "MarkRebalanced"), name
        assert all("States.ALL" not in r["ErrorEquals"] for r in state["Retry"][:-1]), name
        if name in TRADING:
            assert transient <= named, f"{name} does not retry {sorted(transient - named)}"


def test_the_long_half_waits_out_an_unanswered_asgard_submit() -> None:
    retry = _states()["RebalanceLong"]["Retry"]
    first = retry[0]  # the first retrier naming an error applies
    assert first["ErrorEquals"] == ["LongMayStillLand"]
    waited = sum(min(first["IntervalSeconds"] * first["BackoffRate"] ** n, first["MaxDelaySeconds"])
                 for n in range(first["MaxAttempts"]))
    assert waited >= 90  # an Asgard submit's blockhash is valid for ~60-90 s
