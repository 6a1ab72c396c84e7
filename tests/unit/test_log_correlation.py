"""Log lines carry correlation ids: the API's user (in Lambda), the steps' user, position, job and execution."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from starlette.requests import Request

from dnbot.api.deps import SESSION_COOKIE, current_user
from dnbot.observability import logger


def _request(environment: str) -> Request:
    user = SimpleNamespace(user_id="user-7")
    session = SimpleNamespace(csrf_token="t")
    runtime = SimpleNamespace(settings=SimpleNamespace(environment=environment),
                              auth=SimpleNamespace(authenticate=lambda cookie: (user, session)))
    app = SimpleNamespace(state=SimpleNamespace(runtime=runtime))
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/api/v1/positions", "app": app,
                             "headers": [(b"cookie", f"{SESSION_COOKIE}=abc".encode())], "query_string": b""}
    return Request(scope)


@pytest.mark.parametrize(("environment", "tagged"), [("aws", True), ("local", False)])
def test_api_log_lines_name_the_user_in_lambda(environment: str, tagged: bool) -> None:
    logger.remove_keys(["user_id"])
    try:
        current_user(_request(environment))
        keys = logger.get_current_keys()  # what every following JSON line of this invocation carries
        assert keys.get("user_id") == ("user-7" if tagged else None)
    finally:
        logger.remove_keys(["user_id"])
