"""Sessions and login abuse over HTTP: cookie flags, rotation, log out everywhere, the per-client code limit
under parallel requests (429 + Retry-After), cross-user reads by id, security headers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dnbot.adapters.aws.sessions import session_key
from dnbot.domain.kill_switch import KillSwitch
from dnbot.local.system import LocalSystem
from tests.integration.helpers import Terminal

pytestmark = pytest.mark.xdist_group("moto")


def _login(app: FastAPI, terminal: Terminal, email: str, *, remember: bool = False,
           client: TestClient | None = None) -> tuple[TestClient, dict[str, str], httpx.Response]:
    client = client or TestClient(app)
    assert client.post("/api/v1/auth/email/start", json={"email": email}).status_code == 202
    reply = client.post("/api/v1/auth/email/verify",
                        json={"email": email, "code": terminal.login_code(email), "remember": remember})
    assert reply.status_code == 200, reply.text
    return client, {"X-CSRF-Token": reply.json()["csrf_token"]}, reply


def test_cookie_flags_and_lifetimes(app: FastAPI, terminal: Terminal, system: LocalSystem) -> None:
    _, _, reply = _login(app, terminal, "flags@example.com")
    cookie = reply.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path", "expires"} <= attributes
    assert "samesite=strict" in cookie.lower() and "domain" not in attributes
    assert ("secure" in attributes) == system.runtime.settings.cookie_secure  # type: ignore[union-attr]
    assert reply.headers["cache-control"] == "no-store"
    secret = reply.cookies["dnbot_session"]
    assert system.runtime is not None
    session = system.runtime.session_store.get_session(secret)
    assert session is not None
    assert abs((session.expires_at - session.created_at).total_seconds() - 24 * 3600) < 2  # stored in seconds
    _, _, remembered = _login(app, terminal, "flags@example.com", remember=True)
    long_lived = system.runtime.session_store.get_session(remembered.cookies["dnbot_session"])
    assert long_lived is not None
    assert abs((long_lived.expires_at - long_lived.created_at).total_seconds() - 7 * 24 * 3600) < 2


def test_the_session_table_holds_no_cookie(app: FastAPI, terminal: Terminal, system: LocalSystem) -> None:
    _, _, reply = _login(app, terminal, "hashed@example.com")
    secret = reply.cookies["dnbot_session"]
    assert system.cloud is not None
    items = system.cloud.client("dynamodb").scan(TableName=system.runtime.settings.sessions_table_name)["Items"]  # type: ignore[union-attr]
    assert secret not in repr(items)
    assert {"S": f"SESSION#{session_key(secret)}"} in [i["pk"] for i in items]


def test_login_rotates_the_session_id(app: FastAPI, terminal: Terminal) -> None:
    client, _, first = _login(app, terminal, "rotate@example.com")
    old = first.cookies["dnbot_session"]
    _, _, second = _login(app, terminal, "rotate@example.com", client=client)
    assert second.cookies["dnbot_session"] != old
    stale = TestClient(app, cookies={"dnbot_session": old})
    assert stale.get("/api/v1/auth/me").status_code == 401  # the session the browser held ended at login
    assert client.get("/api/v1/auth/me").status_code == 200


def test_log_out_everywhere(app: FastAPI, terminal: Terminal) -> None:
    laptop, laptop_csrf, _ = _login(app, terminal, "everywhere@example.com")
    phone, _, _ = _login(app, terminal, "everywhere@example.com")
    other, _, _ = _login(app, terminal, "someone-else@example.com")
    assert laptop.post("/api/v1/auth/logout", json={"everywhere": True}, headers=laptop_csrf).status_code == 204
    assert laptop.get("/api/v1/auth/me").status_code == 401
    assert phone.get("/api/v1/auth/me").status_code == 401
    assert other.get("/api/v1/auth/me").status_code == 200


def test_plain_logout_ends_only_this_session(app: FastAPI, terminal: Terminal) -> None:
    laptop, laptop_csrf, _ = _login(app, terminal, "one@example.com")
    phone, _, _ = _login(app, terminal, "one@example.com")
    assert laptop.post("/api/v1/auth/logout", headers=laptop_csrf).status_code == 204
    assert laptop.get("/api/v1/auth/me").status_code == 401
    assert phone.get("/api/v1/auth/me").status_code == 200


def test_at_most_five_codes_checked_per_client_under_thirty_parallel_requests(app: FastAPI) -> None:
    client = TestClient(app)
    email = "target@example.com"
    assert client.post("/api/v1/auth/email/start", json={"email": email}).status_code == 202

    def guess(n: int) -> httpx.Response:
        return client.post("/api/v1/auth/email/verify", json={"email": email, "code": f"{n:06d}"})

    with ThreadPoolExecutor(max_workers=30) as pool:
        replies = list(pool.map(guess, range(30)))
    statuses = [r.status_code for r in replies]
    assert statuses.count(401) + statuses.count(200) <= 5, statuses
    limited = [r for r in replies if r.status_code == 429]
    assert len(limited) >= 25
    assert all(int(r.headers["retry-after"]) > 0 and r.json()["error"]["code"] == "too_many_requests"
               for r in limited)


def test_codes_sent_are_limited(app: FastAPI) -> None:
    client = TestClient(app)
    replies = [client.post("/api/v1/auth/email/start", json={"email": "flood@example.com"}) for _ in range(7)]
    assert [r.status_code for r in replies].count(202) == 5
    assert replies[-1].status_code == 429 and "retry-after" in replies[-1].headers


def test_security_headers_on_the_api(app: FastAPI) -> None:
    for reply in (TestClient(app).get("/api/v1/config"), TestClient(app).get("/api/v1/auth/me")):
        assert reply.headers["strict-transport-security"].startswith("max-age=")
        assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def _open(client: TestClient, csrf: dict[str, str]) -> dict[str, Any]:
    reply = client.post("/api/v1/positions/open", json={"asset": "SOL", "size_usd": "500"}, headers=csrf)
    assert reply.status_code == 202, reply.text
    return dict(reply.json())


def test_no_cross_user_reads_by_id(app: FastAPI, terminal: Terminal) -> None:
    alice, alice_csrf, _ = _login(app, terminal, "alice-x@example.com")
    bob, bob_csrf, _ = _login(app, terminal, "bob-x@example.com")
    accepted = _open(alice, alice_csrf)
    for path in (f"/api/v1/positions/{accepted['position_id']}", f"/api/v1/positions/jobs/{accepted['job_id']}"):
        assert alice.get(path).status_code == 200
        assert bob.get(path).status_code == 404, path
    closing = bob.post(f"/api/v1/positions/{accepted['position_id']}/close", headers=bob_csrf)
    assert closing.status_code == 404


def test_position_opens_are_limited_per_user(app: FastAPI, terminal: Terminal, system: LocalSystem) -> None:
    from dnbot.api.deps import POSITION_OPENS_PER_HOUR

    client, csrf, reply = _login(app, terminal, "busy@example.com")
    user_id = reply.json()["user"]["user_id"]
    assert system.runtime is not None
    for _ in range(POSITION_OPENS_PER_HOUR):  # the hour's budget used up (counted like real requests)
        assert system.runtime.session_store.hit("position-opens", user_id, POSITION_OPENS_PER_HOUR,
                                                timedelta(hours=1)).allowed
    limited = client.post("/api/v1/positions/open", json={"asset": "SOL", "size_usd": "500"}, headers=csrf)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert client.get("/api/v1/positions").json()["positions"] == []


def test_the_operator_reads_who_did_what_from_where(app: FastAPI, terminal: Terminal, system: LocalSystem) -> None:
    user, user_csrf, _ = _login(app, terminal, "audited@example.com")
    assert user.post("/api/v1/settings", json={"preset": "conservative"}, headers=user_csrf).status_code == 200
    assert user.post("/api/v1/auth/logout", json={"everywhere": True}, headers=user_csrf).status_code == 204
    refused = user.get("/api/v1/operator/audit")
    assert refused.status_code == 401
    again, _, _ = _login(app, terminal, "audited@example.com")
    assert again.get("/api/v1/operator/audit").json()["error"]["code"] == "not_an_operator"
    operator, operator_csrf, _ = _login(app, terminal, "operator@example.com")
    assert system.runtime is not None
    try:
        assert operator.post("/api/v1/control/emergency-stop", headers=operator_csrf).status_code == 200
    finally:
        system.runtime.kill_switch.set_kill_switch(KillSwitch.OFF)
    entries = operator.get("/api/v1/operator/audit").json()["entries"]
    actions = [e["action"] for e in entries]
    assert {"login", "settings_saved", "logout", "emergency_stop"} <= set(actions)
    stop = next(e for e in entries if e["action"] == "emergency_stop")
    assert stop["client"] == "testclient" and stop["user_id"] and stop["at"]
    saved = next(e for e in entries if e["action"] == "settings_saved")
    assert saved["detail"]["preset"] == "conservative"
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)


def _ws_connect(connection_id: str, headers: dict[str, str]) -> dict[str, Any]:
    return {"requestContext": {"routeKey": "$connect", "connectionId": connection_id, "eventType": "CONNECT",
                               "requestId": "r", "domainName": "x", "stage": "live", "apiId": "a"},
            "headers": headers, "isBase64Encoded": False}


def test_only_cloudfront_gets_through_when_the_origin_secret_is_set(app: FastAPI, system: LocalSystem) -> None:
    assert system.runtime is not None
    system.runtime.override(origin_verify_secret="from-cloudfront-only")
    try:
        direct = TestClient(app).get("/api/v1/config")
        assert direct.status_code == 403 and direct.json()["error"]["code"] == "direct_access_refused"
        assert direct.headers["strict-transport-security"]  # refusals carry the security headers too
        wrong = TestClient(app).get("/api/v1/config", headers={"X-Origin-Verify": "guess"})
        assert wrong.status_code == 403
        through = TestClient(app).get("/api/v1/config", headers={"X-Origin-Verify": "from-cloudfront-only"})
        assert through.status_code == 200
        refused = system.functions.invoke("ws_connections", _ws_connect("direct-1", {}))
        assert refused["statusCode"] == 403
        accepted = system.functions.invoke("ws_connections",
                                           _ws_connect("edge-1", {"x-origin-verify": "from-cloudfront-only"}))
        assert accepted["statusCode"] == 200
    finally:
        system.runtime.override(origin_verify_secret=None)
    assert TestClient(app).get("/api/v1/config").status_code == 200
