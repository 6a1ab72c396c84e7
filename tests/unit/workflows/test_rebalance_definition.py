"""The rebalance state machine: every task names one of the rebalancer's steps, every half that can trade is
compensated, the retriable names are exact, and a lost Asgard answer is waited out before the short is sold back."""

from __future__ import annotations

from typing import Any

from dnbot.ports import PositionConflict, TransientVenueError
from dnbot.services.bridge_rebalance import BridgeRebalancing
from dnbot.services.rebalance import PositionRebalancer
from dnbot.workflows.definitions import TASK_TIMEOUT_SECONDS, definition_for

TRADING = ("RebalanceShort", "RebalanceLong", "RebalanceRestore")
# steps that only record (books written once, marked on the position): rerun after any failure
RERUNNABLE = ("MarkRebalanced", "MarkBridgedLong", "MarkBridgedShort")
TO_LONG = ("BridgePlanLong", "MarginOut", "MarginArrived", "LongBurn", "LongAttest", "LongMint", "RepayDebt")
TO_SHORT = ("BridgePlanShort", "ShortBurn", "ShortAttest", "ShortMint", "MarkBridgedShort")


def _states() -> dict[str, Any]:
    states: dict[str, Any] = definition_for("rebalance_position")["States"]
    return states


def _subclass_names(cls: type) -> set[str]:
    found = {cls.__name__}
    sub: type
    for sub in cls.__subclasses__():
        found |= _subclass_names(sub)
    return found


def _all_steps() -> set[str]:
    rebalancer = PositionRebalancer.__new__(PositionRebalancer)
    rebalancer._bridge = BridgeRebalancing.__new__(BridgeRebalancing)
    return set(rebalancer.steps())


def test_every_task_is_a_rebalance_step_and_every_target_exists() -> None:
    steps = _all_steps()
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
    to_long, *rest = states["Started"]["Choices"]
    assert to_long["And"] == [{"Variable": "$.outcome", "StringEquals": "started"},
                              {"Variable": "$.method", "StringEquals": "to_long"}]
    assert to_long["Next"] == "BridgePlanLong"
    started = {c["StringEquals"]: c["Next"] for c in rest}
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
        assert ("States.ALL" in named) == (name in RERUNNABLE), name
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


def test_a_bridge_to_the_long_falls_back_to_the_shrink_and_one_to_the_short_only_alerts() -> None:
    from dnbot.workflows.definitions import BRIDGE_PENDING_ERRORS

    states = _states()
    for name in TO_LONG:  # the long is at risk: any failure before the repayment lands shrinks instead
        assert states[name]["Catch"][0]["Next"] == "FallbackShrink", name
    fell_back = {c["StringEquals"]: c["Next"] for c in states["FellBack"]["Choices"]}
    assert fell_back == {"started": "RebalanceShort", "cannot": "CloseInstead"}
    assert states["MarkBridgedLong"]["Catch"][0]["Next"] == "RebalanceNeedsAttention"
    # to_short bridges after the shrink's own steps are recorded: the legs are equal, a failure tells the operator
    assert states["MarkRebalanced"]["Next"] == "BridgeAfterShrink"
    assert states["BridgeAfterShrink"]["Choices"] == [
        {"Variable": "$.method", "StringEquals": "to_short", "Next": "BridgePlanShort"}]
    for name in TO_SHORT:
        assert states[name]["Catch"][0]["Next"] == "BridgeFailed", name
    # waiting on the chains and the attesters is retried longer than a venue blip, by exact names
    transient = _subclass_names(TransientVenueError)
    assert set(BRIDGE_PENDING_ERRORS) <= transient
    for name in (*TO_LONG, *TO_SHORT[:-1]):
        first = states[name]["Retry"][0]
        assert first["ErrorEquals"] == list(BRIDGE_PENDING_ERRORS), name
        assert sum(min(first["IntervalSeconds"] * first["BackoffRate"] ** n, first["MaxDelaySeconds"])
                   for n in range(first["MaxAttempts"])) >= 15 * 60, name
