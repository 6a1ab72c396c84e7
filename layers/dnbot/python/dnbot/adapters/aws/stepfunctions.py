"""Starts the open/close state machines. Execution names make starts idempotent per position and job."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from dnbot.domain.positions import Position


class StepFunctionsWorkflows:
    """Implements WorkflowStarter."""

    def __init__(self, client: Any, open_state_machine_arn: str, close_state_machine_arn: str) -> None:
        self._client = client
        self._open_arn = open_state_machine_arn
        self._close_arn = close_state_machine_arn

    def _start(self, state_machine_arn: str, name: str, state: dict[str, Any]) -> str:
        try:
            response = self._client.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(state))
            return str(response["executionArn"])
        except ClientError as error:
            if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
            # Same name, same input: Step Functions already runs it; return the existing execution.
            return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"

    def start_open(self, position: Position, job_id: str) -> str:
        state = {"user_id": position.user_id, "position_id": position.position_id, "job_id": job_id}
        return self._start(self._open_arn, f"open-{position.position_id}", state)

    def start_close(self, position: Position, job_id: str, reason: str) -> str:
        state = {"user_id": position.user_id, "position_id": position.position_id, "job_id": job_id,
                 "reason": reason}
        return self._start(self._close_arn, f"close-{job_id}", state)
