"""ASL definitions of the two-leg workflows.

Every Task invokes the `position_steps` Lambda with `{"step": NAME, "state": <the execution state>}` and the
step returns the whole new state, so a reader can follow one JSON object from Preflight to MarkOpen. The
function's ARN is the placeholder `${PositionStepsFunctionArn}`: CDK substitutes the deployed ARN and
`dnbot local` substitutes its in-process one.

Error names are the Python exception class names the steps raise (Lambda reports them as `errorType`):
- `TransientVenueError`: a venue was briefly unavailable; retried with backoff.
- `AmbiguousVenueError`: a write may or may not have landed; never retried blindly (the next step reconciles).
- everything else is a refusal or a bug, and goes to compensation.
"""

from __future__ import annotations

import json
from typing import Any

STEP_FUNCTION_PLACEHOLDER = "PositionStepsFunctionArn"

_LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
_RETRY_LAMBDA_SERVICE = {
    "ErrorEquals": _LAMBDA_SERVICE_ERRORS,
    "IntervalSeconds": 1,
    "MaxAttempts": 3,
    "BackoffRate": 2.0,
}
_RETRY_TRANSIENT_VENUE = {
    "ErrorEquals": ["TransientVenueError"],
    "IntervalSeconds": 1,
    "MaxAttempts": 4,
    "BackoffRate": 2.0,
}


def _task(step: str, *, next_state: str | None, retry_venue: bool = False,
          catch_to: str | None = None, comment: str = "") -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Comment": comment,
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": "${" + STEP_FUNCTION_PLACEHOLDER + "}",
            "Payload": {"step": step, "state.$": "$"},
        },
        "OutputPath": "$.Payload",
        "Retry": [_RETRY_LAMBDA_SERVICE, *([_RETRY_TRANSIENT_VENUE] if retry_venue else [])],
    }
    if catch_to is not None:
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": catch_to}]
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


def open_position_definition() -> dict[str, Any]:
    """Preflight -> Reserve -> OpenLong -> OpenShort -> ValidateFills -> MarkOpen; unwind the long on failure."""
    return {
        "Comment": "Open one delta-neutral position (idempotent by position id).",
        "StartAt": "Preflight",
        "States": {
            "Preflight": _task("preflight", next_state="Reserve", catch_to="MarkFailed",
                               comment="Kill switch, balances, price consensus, opportunity, risk limits"),
            "Reserve": _task("reserve", next_state="OpenLong", catch_to="MarkFailed",
                             comment="Conditional write: position PENDING, capital reserved"),
            "OpenLong": _task("open_long", next_state="OpenShort", retry_venue=True, catch_to="Unwind",
                              comment="Asgard: build, sign, submit, confirm"),
            "OpenShort": _task("open_short", next_state="ValidateFills", retry_venue=True, catch_to="Unwind",
                               comment="Hyperliquid IOC short sized to the long's actual fill"),
            "ValidateFills": _task("validate_fills", next_state="MarkOpen", retry_venue=True,
                                   catch_to="Unwind",
                                   comment="Delta within tolerance, else rebalance the short"),
            "MarkOpen": _task("mark_open", next_state=None, catch_to="Unwind"),
            "Unwind": _task("unwind", next_state="MarkFailed", retry_venue=True, catch_to="MarkNeedsAttention",
                            comment="Close whatever leg is open so that no naked leg remains"),
            "MarkFailed": _task("mark_failed", next_state="OpenFailed", catch_to="OpenFailed"),
            "MarkNeedsAttention": _task("mark_needs_attention", next_state="OpenFailed", catch_to="OpenFailed",
                                        comment="Unwind failed: alert the operator, a leg may be naked"),
            "OpenFailed": {"Type": "Fail", "Error": "OpenFailed", "Cause": "See the position's failure record"},
        },
    }


def close_position_definition() -> dict[str, Any]:
    """Preflight -> close the legs in the safer order -> Reconcile -> MarkClosed."""
    return {
        "Comment": "Close one delta-neutral position (idempotent by position id).",
        "StartAt": "ClosePreflight",
        "States": {
            "ClosePreflight": _task("close_preflight", next_state="ChooseOrder", retry_venue=True,
                                    catch_to="MarkCloseNeedsAttention",
                                    comment="Read both legs; decide which to close first"),
            "ChooseOrder": {
                "Type": "Choice",
                "Comment": "Close first the leg closer to liquidation; by default the short (no naked short).",
                "Choices": [
                    {"Variable": "$.close_order", "StringEquals": "long_first", "Next": "CloseLongFirst"},
                ],
                "Default": "CloseShortFirst",
            },
            "CloseShortFirst": _task("close_short", next_state="CloseLongSecond", retry_venue=True,
                                     catch_to="MarkCloseNeedsAttention"),
            "CloseLongSecond": _task("close_long", next_state="Reconcile", retry_venue=True,
                                     catch_to="MarkCloseNeedsAttention"),
            "CloseLongFirst": _task("close_long", next_state="CloseShortSecond", retry_venue=True,
                                    catch_to="MarkCloseNeedsAttention"),
            "CloseShortSecond": _task("close_short", next_state="Reconcile", retry_venue=True,
                                      catch_to="MarkCloseNeedsAttention"),
            "Reconcile": _task("reconcile", next_state="MarkClosed", retry_venue=True,
                               catch_to="MarkCloseNeedsAttention"),
            "MarkClosed": _task("mark_closed", next_state=None, catch_to="MarkCloseNeedsAttention"),
            "MarkCloseNeedsAttention": _task("mark_needs_attention", next_state="CloseFailed",
                                             catch_to="CloseFailed"),
            "CloseFailed": {"Type": "Fail", "Error": "CloseFailed", "Cause": "See the position's failure record"},
        },
    }


def definition_for(name: str) -> dict[str, Any]:
    if name == "open_position":
        return open_position_definition()
    if name == "close_position":
        return close_position_definition()
    raise KeyError(f"no state machine named {name!r}")


def render(name: str, substitutions: dict[str, str]) -> str:
    """The definition as JSON with `${Placeholder}`s replaced (what `dnbot local` hands to its Step Functions)."""
    text = json.dumps(definition_for(name), indent=2)
    for placeholder, value in substitutions.items():
        text = text.replace("${" + placeholder + "}", value)
    return text
