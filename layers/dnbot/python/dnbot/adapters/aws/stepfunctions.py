"""Starts the open/close state machines. Execution names make starts idempotent per position.

- open-<position id>: one open per position, ever.
- close-<position id>: a duplicate close (a double click, two ticks, close-all twice) is one execution. Step
  Functions keeps a name for 90 days even after the execution ends, so a later close of the same position (after a
  close that ended in needs_attention) runs as close-<position id>-2, -3, ...: still one name per attempt, so two
  concurrent retries of that attempt are again one execution.
- rebalance-<position id>-<n>: the position's n-th in-place rebalance (n = the one in flight, else the next): the
  tick starting it again while it runs is that one execution. One that ended without recording rebalance n (its
  preflight found nothing to do) leaves the next start to run as rebalance-<position id>-<n>-2, -3, ...
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from dnbot.domain.positions import Position

MAX_CLOSE_ATTEMPTS = 50


class StepFunctionsWorkflows:
    """Implements WorkflowStarter."""

    def __init__(self, client: Any, open_state_machine_arn: str, close_state_machine_arn: str,
                 rebalance_state_machine_arn: str = "") -> None:
        self._rebalance_arn = rebalance_state_machine_arn
        self._client = client
        self._open_arn = open_state_machine_arn
        self._close_arn = close_state_machine_arn

    @staticmethod
    def _execution_arn(state_machine_arn: str, name: str) -> str:
        return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"

    def _start(self, state_machine_arn: str, name: str, state: dict[str, Any]) -> dict[str, Any] | None:
        """None if started (or the same name + input already runs); else the existing execution's description."""
        try:
            self._client.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(state))
            return None
        except ClientError as error:
            if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
        described: dict[str, Any] = self._client.describe_execution(
            executionArn=self._execution_arn(state_machine_arn, name))
        return described

    def start_open(self, position: Position, job_id: str) -> str:
        state = {"user_id": position.user_id, "position_id": position.position_id, "job_id": job_id}
        name = f"open-{position.position_id}"
        self._start(self._open_arn, name, state)  # already exists: that execution is this position's open
        return self._execution_arn(self._open_arn, name)

    def start_close(self, position: Position, job_id: str, reason: str) -> str:
        """Returns the job id of the close that runs: `job_id`, or that of the close already running."""
        state = {"user_id": position.user_id, "position_id": position.position_id, "job_id": job_id,
                 "reason": reason}
        for attempt in range(1, MAX_CLOSE_ATTEMPTS + 1):
            name = f"close-{position.position_id}" + ("" if attempt == 1 else f"-{attempt}")
            existing = self._start(self._close_arn, name, state)
            if existing is None:
                return job_id
            if existing["status"] == "RUNNING":  # "already running": that close is this close
                return str(json.loads(existing["input"])["job_id"])
        raise RuntimeError(f"position {position.position_id} has been closed {MAX_CLOSE_ATTEMPTS} times")

    def start_rebalance(self, position: Position, reason: str, target_distance: Decimal) -> str:
        if not self._rebalance_arn:
            raise RuntimeError("DNBOT_REBALANCE_STATE_MACHINE_ARN is not set: no rebalance workflow to start")
        number = position.rebalancing.number if position.rebalancing is not None else position.rebalances + 1
        state = {"user_id": position.user_id, "position_id": position.position_id, "number": number,
                 "reason": reason, "target_distance": str(target_distance)}
        for attempt in range(1, MAX_CLOSE_ATTEMPTS + 1):
            name = f"rebalance-{position.position_id}-{number}" + ("" if attempt == 1 else f"-{attempt}")
            existing = self._start(self._rebalance_arn, name, state)
            if existing is None or existing["status"] == "RUNNING":  # running: that execution is this rebalance
                return name
            # it ended without recording rebalance `number` (nothing to do then, or refused): a later decision
            # may try again; its preflight's numbering makes a run for a number already done a no-op
        raise RuntimeError(f"rebalance {number} of {position.position_id} was started {MAX_CLOSE_ATTEMPTS} times")
