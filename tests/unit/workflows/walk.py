"""Run a state machine's definition (dnbot/workflows/definitions.py) on in-process steps, the way Step Functions
runs it, for unit tests over in-memory venues: each Task calls the step its payload names with the state the
previous one returned (as JSON, as Lambda gets it); a raised error is named by its class, retried when a Retry
names it (no waiting) and otherwise sent to the Catch with the error at `$.error`; Choice states compare one
top-level field. tests/faults runs the same definitions in moto's executor against `dnbot sim`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dnbot.workflows.definitions import definition_for

State = dict[str, Any]


class Execution:
    def __init__(self, status: str, state: State, entered: list[str], errors: list[tuple[str, str]]) -> None:
        """status SUCCEEDED | FAILED; the last state; the states entered in order; (state, error name) of every
        failed attempt."""
        self.status, self.state, self.entered, self.errors = status, state, entered, errors

    def __repr__(self) -> str:
        return f"Execution({self.status}, {self.entered}, errors={self.errors}, {self.state})"


def _matches(rule: dict[str, Any], error: State) -> bool:
    return error["Error"] in rule["ErrorEquals"] or rule["ErrorEquals"] == ["States.ALL"]


def _task(step: Callable[[State], State], spec: dict[str, Any], state: State, errors: list[tuple[str, str]],
          name: str) -> tuple[State, State | None]:
    """One Task as Lambda runs it: what a failed attempt changed in its input is lost. The first retrier naming
    the error applies, each counting its own attempts; when it has none left, the error goes to Catch."""
    used = [0] * len(spec["Retry"])
    while True:
        try:
            return json.loads(json.dumps(step(json.loads(json.dumps(state))), default=str)), None
        except Exception as raised:
            error = {"Error": type(raised).__name__,
                     "Cause": json.dumps({"errorMessage": str(raised), "errorType": type(raised).__name__})}
            errors.append((name, error["Error"]))
            retrier = next((i for i, rule in enumerate(spec["Retry"]) if _matches(rule, error)), None)
            if retrier is None or used[retrier] >= spec["Retry"][retrier]["MaxAttempts"]:
                return state, error
            used[retrier] += 1


def _holds(rule: dict[str, Any], state: State) -> bool:
    """One Choice rule: a StringEquals on a top-level field, or an And of such rules."""
    if "And" in rule:
        return all(_holds(part, state) for part in rule["And"])
    variable = rule["Variable"]
    assert variable.startswith("$.") and "." not in variable[2:] and set(rule) - {"Next"} == {
        "Variable", "StringEquals"}, rule
    return bool(state.get(variable[2:]) == rule["StringEquals"])


def _choose(spec: dict[str, Any], state: State) -> str:
    for choice in spec["Choices"]:
        if _holds(choice, state):
            return str(choice["Next"])
    return str(spec["Default"])


def run_workflow(machine: str, steps: dict[str, Callable[[State], State]], state: State) -> Execution:
    """One execution of the state machine `machine` from its StartAt with `state` as input."""
    definition = definition_for(machine)
    name: str = definition["StartAt"]
    entered: list[str] = []
    errors: list[tuple[str, str]] = []
    while len(entered) < 30:
        entered.append(name)
        spec = definition["States"][name]
        if spec["Type"] in ("Succeed", "Fail"):
            return Execution("SUCCEEDED" if spec["Type"] == "Succeed" else "FAILED", state, entered, errors)
        if spec["Type"] == "Choice":
            name = _choose(spec, state)
            continue
        assert spec["Type"] == "Task", spec
        result, error = _task(steps[spec["Parameters"]["Payload"]["step"]], spec, state, errors, name)
        if error is None:
            state = result
            if spec.get("End"):
                return Execution("SUCCEEDED", state, entered, errors)
            name = spec["Next"]
            continue
        catch = next((c for c in spec.get("Catch", []) if _matches(c, error)), None)
        if catch is None:
            return Execution("FAILED", state, entered, errors)
        assert catch["ResultPath"] == "$.error", catch
        state, name = {**state, "error": error}, catch["Next"]
    raise AssertionError(f"the execution did not end: {entered}")
