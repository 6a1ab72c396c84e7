"""ASL definitions of the two-leg workflows (open, close, rebalance in place) and the withdrawal.

Every Task invokes the `position_steps` Lambda with `{"step": NAME, "state": <the execution state>}` and the
step returns the whole new state, so a reader can follow one JSON object from Preflight to MarkOpen. The
function's ARN is the placeholder `${PositionStepsFunctionArn}`: CDK substitutes the deployed ARN and
`dnbot local` substitutes its in-process one.

Error names are the Python exception class names the steps raise (Lambda reports them as `errorType`). Step
Functions matches `ErrorEquals` by exact name, never by subclass, so every concrete retriable class is listed
(tests/unit/workflows/test_definitions.py walks the classes and fails when one is missing):
- `TransientVenueError` and its subclasses (`LegsStillOpen`, `LongMayStillLand`, `RebalanceLegPending`): a venue
  was briefly unavailable, or a rebalance half's answer was lost (its retry asks the venue); retried.
- `PositionConflict`: another writer saved the position first; the step re-reads and re-applies (idempotent).
- `AmbiguousVenueError`: a write may or may not have landed; never retried blindly (the next step reconciles).
- everything else (StepRefused, VenueRejected, FillMismatch, IllegalTransition...) is a refusal or a bug, and
  goes to compensation.
Retries back off exponentially with FULL jitter (two executions failing together do not retry in lockstep), and
every Task has a timeout a little over the step function's own, so a hung invoke cannot hold an execution.
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
# Every concrete class name a step raises for "try again": TransientVenueError's subclasses are listed one by one.
TRANSIENT_VENUE_ERRORS = ("TransientVenueError", "LegsStillOpen", "LongMayStillLand", "RebalanceLegPending",
                          "VenueRateLimited", "AttestationPending", "NotConfirmedYet", "MarginNotArrived")
# A bridge transfer waits on the chains and Circle's attesters (seconds to minutes): its steps retry these longer.
BRIDGE_PENDING_ERRORS = ("AttestationPending", "NotConfirmedYet", "MarginNotArrived", "VenueRateLimited")
WRITE_CONFLICT_ERRORS = ("PositionConflict",)
# The position_steps function's timeout is 120 s (resources.FUNCTIONS); a Task waits a little longer than that.
TASK_TIMEOUT_SECONDS = 150

_RETRY_LAMBDA_SERVICE = {
    "ErrorEquals": _LAMBDA_SERVICE_ERRORS,
    "IntervalSeconds": 1,
    "MaxAttempts": 3,
    "BackoffRate": 2.0,
    "JitterStrategy": "FULL",
}
_RETRY_WRITE_CONFLICT = {
    "ErrorEquals": list(WRITE_CONFLICT_ERRORS),
    "IntervalSeconds": 1,
    "MaxAttempts": 3,
    "BackoffRate": 2.0,
    "JitterStrategy": "FULL",
}
_RETRY_TRANSIENT_VENUE = {
    "ErrorEquals": list(TRANSIENT_VENUE_ERRORS),
    "IntervalSeconds": 1,
    "MaxAttempts": 4,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 20,
    "JitterStrategy": "FULL",
}


# An Asgard submit whose answer was lost stays undecided until its blockhash expires (~60-90 s): the rebalance's
# long half waits that out before its compensation sells the short back (a restore while the deleverage may still
# land would leave the long smaller than its short).
_RETRY_LONG_MAY_STILL_LAND = {
    "ErrorEquals": ["LongMayStillLand"],
    "IntervalSeconds": 5,
    "MaxAttempts": 8,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 30,
    "JitterStrategy": "FULL",
}


# ~20 minutes in all (5 s, then x1.5 up to 30 s a try): a Fast transfer is attested in seconds and Hyperliquid's
# withdrawal reaches Arbitrum in minutes; past that the rebalance falls back to a shrink (to_long) or tells the
# operator (to_short), and the transfer's record keeps where its USDC is.
_RETRY_BRIDGE_PENDING = {
    "ErrorEquals": list(BRIDGE_PENDING_ERRORS),
    "IntervalSeconds": 5,
    "MaxAttempts": 45,
    "BackoffRate": 1.5,
    "MaxDelaySeconds": 30,
    "JitterStrategy": "FULL",
}


# A step that trades nothing and only records what the venues say may be rerun after any failure (a Lambda that
# died mid-write): Step Functions wants States.ALL alone, in the last retrier.
_RETRY_ANY = {
    "ErrorEquals": ["States.ALL"],
    "IntervalSeconds": 2,
    "MaxAttempts": 3,
    "BackoffRate": 2.0,
    "JitterStrategy": "FULL",
}


def _task(step: str, *, next_state: str | None, retry_venue: bool = False,
          catch_to: str | None = None, comment: str = "",
          extra_retry: tuple[dict[str, Any], ...] = (), retry_any: bool = False) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Comment": comment,
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": "${" + STEP_FUNCTION_PLACEHOLDER + "}",
            # The execution name rides along only as a log correlation id (user, position, job, execution).
            "Payload": {"step": step, "state.$": "$", "execution.$": "$$.Execution.Name"},
        },
        "OutputPath": "$.Payload",
        "TimeoutSeconds": TASK_TIMEOUT_SECONDS,
        # the first retrier whose ErrorEquals names the error applies: the specific ones come first
        "Retry": [*extra_retry, _RETRY_LAMBDA_SERVICE, _RETRY_WRITE_CONFLICT,
                  *([_RETRY_TRANSIENT_VENUE] if retry_venue else []), *([_RETRY_ANY] if retry_any else [])],
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
                "Comment": "The long first (the leg that can fail for longer): if it cannot close, the short "
                           "stays and the position rests hedged. short_first only when asked explicitly.",
                "Choices": [
                    {"Variable": "$.close_order", "StringEquals": "short_first", "Next": "CloseShortFirst"},
                ],
                "Default": "CloseLongFirst",
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
            "MarkClosed": _task("mark_closed", next_state="CapitalPlan", catch_to="MarkCloseNeedsAttention"),
            **_capital_states(),
            "MarkCloseNeedsAttention": _task("mark_needs_attention", next_state="CloseFailed",
                                             catch_to="CloseFailed"),
            "CloseFailed": {"Type": "Fail", "Error": "CloseFailed", "Cause": "See the position's failure record"},
        },
    }


def rebalance_position_definition() -> dict[str, Any]:
    """RebalancePreflight -> RebalanceShort -> RebalanceLong -> MarkRebalanced; a failed half goes to
    RebalanceRestore (the short sold back, legs as before), then the close the rebalance replaced is asked for.
    Steps: services/rebalance.py (PositionRebalancer.steps); execution `rebalance-<position id>-<n>`."""
    return {
        "Comment": "Shrink both legs of one open position by the same SOL (idempotent by position id and number).",
        "StartAt": "RebalancePreflight",
        "States": {
            "RebalancePreflight": _task(
                "rebalance_preflight", next_state="Started", retry_venue=True, catch_to="RebalanceFailed",
                comment="Kill switch (fresh), position OPEN, size from both venues, versioned write of the intent"),
            "Started": {
                "Type": "Choice",
                "Comment": "started: trade; cannot: no in-place reduction restores the distance, close instead; "
                           "refused / not_needed / done: nothing to do",
                "Choices": [
                    {"And": [{"Variable": "$.outcome", "StringEquals": "started"},
                             {"Variable": "$.method", "StringEquals": "to_long"}], "Next": "BridgePlanLong"},
                    *_shrink_choices(),
                ],
                "Default": "NothingToDo",
            },
            **_bridge_to_long_states(),
            "FallbackShrink": _task("rebalance_fallback_shrink", next_state="FellBack", retry_venue=True,
                                    catch_to="RebalanceNeedsAttention",
                                    comment="The bridge could not move the USDC: the same rebalance shrinks"),
            "FellBack": {
                "Type": "Choice",
                "Choices": _shrink_choices(),
                "Default": "NothingToDo",
            },
            "RebalanceShort": _task("rebalance_short", next_state="RebalanceLong", retry_venue=True,
                                    catch_to="RebalanceRestore",
                                    comment="Hyperliquid reduce-only buy-back, cloid rebalance-<n>"),
            "RebalanceLong": _task("rebalance_long", next_state="MarkRebalanced", retry_venue=True,
                                   catch_to="RebalanceRestore", extra_retry=(_RETRY_LONG_MAY_STILL_LAND,),
                                   comment="Asgard deleverage (or partial close), once per counted update"),
            "MarkRebalanced": _task("mark_rebalanced", next_state="BridgeAfterShrink",
                                    catch_to="RebalanceNeedsAttention", retry_any=True,
                                    comment="Ledger legs = the venues' sizes; activity event (trades nothing: "
                                            "rerun after any failure)"),
            "BridgeAfterShrink": {
                "Type": "Choice",
                "Comment": "to_short: the partial close's USDC goes to the short's margin on Hyperliquid",
                "Choices": [{"Variable": "$.method", "StringEquals": "to_short", "Next": "BridgePlanShort"}],
                "Default": "Rebalanced",
            },
            **_bridge_to_short_states(),
            "Rebalanced": {"Type": "Succeed"},
            "RebalanceRestore": _task("rebalance_restore", next_state="Restored", retry_venue=True,
                                      catch_to="RebalanceNeedsAttention",
                                      comment="Compensation: sell back the buy-back (restore-<n>) unless the "
                                              "long's update landed after all"),
            "Restored": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.outcome", "StringEquals": "landed", "Next": "MarkRebalanced"},
                    {"Variable": "$.outcome", "StringEquals": "undone", "Next": "CloseAfterFailure"},
                ],
                "Default": "RebalanceFailed",
            },
            "CloseInstead": _task("rebalance_close_instead", next_state=None, catch_to="RebalanceFailed",
                                  comment="Ask the strategy worker (fan-out queue) for the close"),
            "CloseAfterFailure": _task("rebalance_close_instead", next_state="RebalanceFailed",
                                       catch_to="RebalanceFailed",
                                       comment="Legs restored, equal: the risk stays, so the position closes"),
            "RebalanceNeedsAttention": _task("rebalance_needs_attention", next_state="RebalanceFailed",
                                             catch_to="RebalanceFailed",
                                             comment="The restore failed: alert the operator"),
            "NothingToDo": {"Type": "Succeed"},
            "RebalanceFailed": {"Type": "Fail", "Error": "RebalanceFailed",
                                "Cause": "See the position's activity and the operator's alerts"},
        },
    }


def _shrink_choices() -> list[dict[str, Any]]:
    """A preflight's (or a fallback's) outcome: started -> the shrink's trades; cannot -> close instead."""
    return [{"Variable": "$.outcome", "StringEquals": "started", "Next": "RebalanceShort"},
            {"Variable": "$.outcome", "StringEquals": "cannot", "Next": "CloseInstead"}]


def _bridge_task(step: str, next_state: str | None, catch_to: str, comment: str,
                 extra_retry: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    return _task(step, next_state=next_state, retry_venue=True, catch_to=catch_to, comment=comment,
                 extra_retry=(_RETRY_BRIDGE_PENDING, *extra_retry))


def _bridge_to_long_states() -> dict[str, Any]:
    """After a fall: the short's spare margin becomes the long's collateral (services/bridge_rebalance.py). Any
    failure before the repayment lands falls back to the shrink."""
    fallback = "FallbackShrink"
    return {
        "BridgePlanLong": _bridge_task("bridge_plan", "MarginOut", fallback,
                                       "The transfer's record first: the deposit sweep leaves its USDC alone"),
        "MarginOut": _bridge_task("margin_out", "MarginArrived", fallback,
                                  "Hyperliquid withdraw3 to the user's own Arbitrum wallet (nonce fixed by the "
                                  "intent: a resend is the same action)"),
        "MarginArrived": _bridge_task("margin_arrived", "LongBurn", fallback, "The USDC is on Arbitrum"),
        "LongBurn": _bridge_task("bridge_burn", "LongAttest", fallback, "CCTP depositForBurn on Arbitrum"),
        "LongAttest": _bridge_task("bridge_attest", "LongMint", fallback, "Circle's attestation (Iris)"),
        "LongMint": _bridge_task("bridge_mint", "RepayDebt", fallback,
                                 "receive_message on Solana: to the user's USDC account"),
        "RepayDebt": _bridge_task("repay_debt", "MarkBridgedLong", fallback,
                                  "Asgard repay-debt with what arrived, once",
                                  extra_retry=(_RETRY_LONG_MAY_STILL_LAND,)),
        "MarkBridgedLong": _task("mark_bridged", next_state=None, catch_to="RebalanceNeedsAttention",
                                 retry_any=True, comment="The books (basis moves with the USDC), the activity"),
    }


def _bridge_to_short_states() -> dict[str, Any]:
    """After a rally's smaller partial close: its USDC to the short's margin. The legs are already equal and safe,
    so a failure only tells the operator (the USDC stays rebalance cash; its record says where it is)."""
    failed = "BridgeFailed"
    return {
        "BridgePlanShort": _bridge_task("bridge_plan", "Planned", failed, "The transfer's record"),
        "Planned": {"Type": "Choice",
                    "Choices": [{"Variable": "$.bridge_outcome", "StringEquals": "planned", "Next": "ShortBurn"}],
                    "Default": "Rebalanced"},
        "ShortBurn": _bridge_task("bridge_burn", "ShortAttest", failed, "CCTP deposit_for_burn on Solana"),
        "ShortAttest": _bridge_task("bridge_attest", "ShortMint", failed, "Circle's attestation (Iris)"),
        "ShortMint": _bridge_task("bridge_mint", "MarkBridgedShort", failed,
                                  "receiveMessage on Arbitrum: to the user's wallet"),
        "MarkBridgedShort": _task("mark_bridged", next_state=None, catch_to=failed, retry_any=True,
                                  comment="The books, then the deposit into Hyperliquid (the sweep, now)"),
        "BridgeFailed": _task("bridge_failed", next_state="Rebalanced", catch_to="Rebalanced",
                              comment="Alert the operator: the legs are equal, the USDC is on its record"),
    }


def _capital_states() -> dict[str, Any]:
    """After the close: the user's USDC split between the venues again over the bridge (services/capital_balance.py),
    so the next open can use all of it. The position is closed whatever happens here: a failure leaves the capital
    where it is (its transfer's record says where USDC in flight is)."""
    failed = "CapitalNotMoved"
    return {
        "CapitalPlan": _bridge_task("capital_plan", "CapitalPlanned", failed,
                                    "Half the difference between the venues' free USDC, if worth a transfer"),
        "CapitalPlanned": {
            "Type": "Choice",
            "Choices": [
                {"And": [{"Variable": "$.bridge_outcome", "StringEquals": "planned"},
                         {"Variable": "$.method", "StringEquals": "to_long"}], "Next": "CapitalMarginOut"},
                {"Variable": "$.bridge_outcome", "StringEquals": "planned", "Next": "CapitalBurn"},
            ],
            "Default": "Closed",
        },
        "CapitalMarginOut": _bridge_task("capital_margin_out", "CapitalMarginArrived", failed,
                                         "Hyperliquid withdraw3 to the user's own Arbitrum wallet, once"),
        "CapitalMarginArrived": _bridge_task("margin_arrived", "CapitalBurn", failed, "The USDC is on Arbitrum"),
        "CapitalBurn": _bridge_task("bridge_burn", "CapitalAttest", failed, "CCTP burn on the richer chain"),
        "CapitalAttest": _bridge_task("bridge_attest", "CapitalMint", failed, "Circle's attestation (Iris)"),
        "CapitalMint": _bridge_task("bridge_mint", "CapitalDone", failed, "The mint to the user's wallet"),
        "CapitalDone": _task("capital_done", next_state="Closed", catch_to=failed, retry_any=True,
                             comment="to_short: deposited into Hyperliquid; the transfer ends"),
        "CapitalNotMoved": _task("capital_failed", next_state="Closed", catch_to="Closed",
                                 comment="The capital stays split as it is; the next open is smaller"),
        "Closed": {"Type": "Succeed"},
    }


def withdraw_definition() -> dict[str, Any]:
    """Pay one confirmed withdrawal (dnbot.services.withdrawals): idempotent, so retries never pay twice."""
    return {
        "Comment": "Pay a confirmed withdrawal from the user's wallet (idempotent by withdrawal id).",
        "StartAt": "Withdraw",
        "States": {"Withdraw": _task("withdraw", next_state=None, retry_venue=True,
                                     comment="Sign exactly this transfer (validated), store it, send it")},
    }


def definition_for(name: str) -> dict[str, Any]:
    if name == "withdraw":
        return withdraw_definition()
    if name == "open_position":
        return open_position_definition()
    if name == "close_position":
        return close_position_definition()
    if name == "rebalance_position":
        return rebalance_position_definition()
    raise KeyError(f"no state machine named {name!r}")


def render(name: str, substitutions: dict[str, str]) -> str:
    """The definition as JSON with `${Placeholder}`s replaced (what `dnbot local` hands to its Step Functions)."""
    text = json.dumps(definition_for(name), indent=2)
    for placeholder, value in substitutions.items():
        text = text.replace("${" + placeholder + "}", value)
    return text
