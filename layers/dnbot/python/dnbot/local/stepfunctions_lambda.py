"""Route moto's Step Functions Lambda invocations to the in-process handlers.

moto executes the very ASL that CDK deploys (its Step Functions parser is a port of LocalStack's, with real
Retry/Catch semantics), but it runs Lambda code only inside Docker, which does not exist here. Its Task states
reach Lambda through one function, `lambda_eval_utils.boto_client_for`; replacing it with a client whose
`invoke` calls our handler keeps everything else of moto's executor as is, instead of writing an ASL interpreter.
The reply has Lambda's own shape: a handler's exception becomes `FunctionError` with `errorType` = the
exception's class name, which is the error name the definitions' Retry and Catch match.
"""

from __future__ import annotations

import io
import json
import logging
import traceback
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from dnbot.local.functions import LocalFunctions

logger = logging.getLogger(__name__)
_original_boto_client_for = lambda_eval_utils.boto_client_for  # type: ignore[attr-defined]


class InProcessLambdaClient:
    def __init__(self, functions: LocalFunctions) -> None:
        self._functions = functions

    def invoke(self, FunctionName: str, Payload: bytes | str | None = None, **_: Any) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        event = json.loads(Payload or b"{}")
        name = self._functions.name_from(FunctionName)
        try:
            result = self._functions.invoke(name, event)
            return {"StatusCode": 200, "ExecutedVersion": "$LATEST",
                    "Payload": io.BytesIO(json.dumps(result, default=str).encode())}
        except Exception as error:  # Lambda reports every exception to Step Functions this way
            logger.info("function %s raised %s: %s", name, type(error).__name__, error)
            body = {"errorType": type(error).__name__, "errorMessage": str(error),
                    "stackTrace": traceback.format_exception(error)[-3:]}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "ExecutedVersion": "$LATEST",
                    "Payload": io.BytesIO(json.dumps(body).encode())}


def route_lambda_to(functions: LocalFunctions) -> None:
    client = InProcessLambdaClient(functions)

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        if service == "lambda":
            return client
        return _original_boto_client_for(region=region, service=service, state_credentials=state_credentials)

    lambda_eval_utils.boto_client_for = boto_client_for  # type: ignore[attr-defined]


def restore() -> None:
    lambda_eval_utils.boto_client_for = _original_boto_client_for  # type: ignore[attr-defined]
