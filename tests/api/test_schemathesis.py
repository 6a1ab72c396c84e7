"""Property-based: every operation of the OpenAPI, fuzzed anonymously and logged in, never answers 5xx, and
every error is the project's JSON error body. The emergency stop is not fuzzed (tested by hand below)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from dnbot.domain.kill_switch import KillSwitch
from dnbot.local.system import LocalSystem
from tests.api.test_sessions import _login
from tests.integration.helpers import Terminal

pytestmark = pytest.mark.xdist_group("moto")

EMERGENCY_STOP = "/api/v1/control/emergency-stop"
MAX_EXAMPLES = 12


@pytest.fixture(scope="module")
def api_schema(app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/api/openapi.json", app).exclude(path=EMERGENCY_STOP)


@pytest.fixture(scope="module")
def logged_in(app: FastAPI, terminal: Terminal) -> dict[str, Any]:
    client = TestClient(app)
    email = "fuzz@example.com"
    assert client.post("/api/v1/auth/email/start", json={"email": email}).status_code == 202
    reply = client.post("/api/v1/auth/email/verify", json={"email": email, "code": terminal.login_code(email)})
    assert reply.status_code == 200, reply.text
    return {"cookies": {"dnbot_session": reply.cookies["dnbot_session"]},
            "headers": {"X-CSRF-Token": reply.json()["csrf_token"]}}


def _check_error_body(response: Any) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body


def _fuzz(api_schema: Any, send: Callable[[Any], Any]) -> int:
    """Every operation, MAX_EXAMPLES cases each (valid and invalid data); returns how many operations ran."""
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            _check_error_body(send(case))

        run()
        operations += 1
    return operations


def test_anonymous_requests_never_fail_on_the_server(api_schema: Any) -> None:
    assert _fuzz(api_schema, lambda case: case.call()) >= 15


def test_logged_in_requests_never_fail_on_the_server(api_schema: Any, logged_in: dict[str, Any]) -> None:
    def send(case: Any) -> Any:
        return case.call(headers={**(case.headers or {}), **logged_in["headers"]}, cookies=logged_in["cookies"])

    # logging out would end the session the rest of the run uses: tested by hand in tests/api/test_sessions.py
    assert _fuzz(api_schema.exclude(path="/api/v1/auth/logout"), send) >= 15


def test_emergency_stop_by_hand(app: FastAPI, terminal: Terminal, system: LocalSystem) -> None:
    assert TestClient(app).post(EMERGENCY_STOP).status_code == 401
    user, user_csrf, _ = _login(app, terminal, "not-an-operator@example.com")
    refused = user.post(EMERGENCY_STOP, headers=user_csrf)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_an_operator"
    operator, operator_csrf, _ = _login(app, terminal, "operator@example.com")
    no_csrf = operator.post(EMERGENCY_STOP, headers={"X-CSRF-Token": "wrong"})
    assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "csrf_failed"
    assert system.runtime is not None
    try:
        stopped = operator.post(EMERGENCY_STOP, headers=operator_csrf)
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["kill_switch"] == KillSwitch.CLOSE_ALL.value
    finally:
        system.runtime.kill_switch.set_kill_switch(KillSwitch.OFF)


@pytest.mark.parametrize("leverage", ["2." + "1" * 40, "3" + "0" * 40, "1e-400", "NaN", "Infinity", "-0"])
def test_numbers_out_of_digit_or_range_limits_are_422(app: FastAPI, logged_in: dict[str, Any], leverage: str) -> None:
    client = TestClient(app, cookies=logged_in["cookies"])
    for path, body in (("/api/v1/settings", {"preset": "balanced", "leverage": leverage}),
                       ("/api/v1/settings", {"preset": "balanced", "max_position_usd": leverage}),
                       ("/api/v1/positions/open", {"asset": "SOL", "leverage": leverage, "size_usd": "100"}),
                       ("/api/v1/positions/open", {"asset": "SOL", "size_usd": leverage})):
        reply = client.post(path, json=body, headers=logged_in["headers"])
        assert reply.status_code == 422, (path, body, reply.text)
        assert reply.json()["error"]["code"] == "invalid_request"
    reply = client.get("/api/v1/rates", params={"leverage": leverage})
    assert reply.status_code == 422 and reply.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("token", ["é" * 10, "abc\x01", "a\x7fb", "ü", "x" * 5000])
def test_headers_with_odd_bytes_are_refused_cleanly(app: FastAPI, logged_in: dict[str, Any], token: str) -> None:
    client = TestClient(app, cookies=logged_in["cookies"])
    reply = client.post("/api/v1/settings/reset", headers={"X-CSRF-Token": token.encode()})
    assert reply.status_code in (400, 403), reply.text
    assert reply.json()["error"]["code"] in ("csrf_failed", "bad_header")
    reply = TestClient(app).get("/api/v1/auth/me", headers={"cookie": b"dnbot_session=" + token.encode()})
    assert reply.status_code in (400, 401) and "error" in reply.json()


def test_ids_in_paths_are_bounded(app: FastAPI, logged_in: dict[str, Any]) -> None:
    client = TestClient(app, cookies=logged_in["cookies"])
    for path in ("/api/v1/positions/" + "a" * 2000, "/api/v1/positions/jobs/" + "b" * 3000, "/api/v1/positions/a.b"):
        reply = client.get(path)
        assert reply.status_code == 422 and reply.json()["error"]["code"] == "invalid_request", reply.text
