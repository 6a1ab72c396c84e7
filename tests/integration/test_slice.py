"""The walking skeleton's slice, end to end through the handlers on moto:
poller -> snapshot -> GET /rates; login; POST /positions/open -> the open state machine -> stages -> position."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import httpx
import pytest

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.rates import HOURS_PER_YEAR
from dnbot.local.system import LocalSystem
from dnbot.ports import TransientVenueError, VenueRejected
from tests.integration.helpers import Client, Terminal, log_in

pytestmark = pytest.mark.xdist_group("moto")


@pytest.fixture(scope="module")
def alice(system: LocalSystem, terminal: Terminal) -> Client:
    return log_in(system, terminal, "alice@example.com")


def test_poller_snapshot_is_served_by_rates(system: LocalSystem) -> None:
    result = system.functions.invoke("rates_poller", {"source": "aws.events"})
    rates = httpx.get(f"{system.url}/api/v1/rates").json()
    assert rates["at"].startswith(result["at"][:19])
    funding = rates["hyperliquid"]
    assert Decimal(funding["funding_hourly"]) == Decimal(result["funding_hourly"])
    # annualized simply, from the HOURLY rate: 8760 hours a year
    assert Decimal(funding["funding_apy"]) == Decimal(funding["funding_hourly"]) * HOURS_PER_YEAR
    pairs = {(m["asset"], m["protocol"]) for m in rates["asgard"]}
    assert {("SOL", "kamino"), ("SOL", "marginfi"), ("SOL", "drift"), ("jitoSOL", "kamino")} <= pairs
    nets = [Decimal(o["net_apy"]) for o in rates["opportunities"]]
    assert nets == sorted(nets, reverse=True)


def test_rates_leverage_is_validated(system: LocalSystem) -> None:
    reply = httpx.get(f"{system.url}/api/v1/rates", params={"leverage": "9"})
    assert reply.status_code == 422
    assert reply.json()["error"]["code"] == "invalid_request"


def test_login_with_the_printed_code(alice: Client) -> None:
    me = alice.get("/api/v1/auth/me").json()
    assert me["user"]["email"] == "alice@example.com"
    assert me["user"]["wallets"]["solana"] and me["user"]["wallets"]["evm"].startswith("0x")


def test_wrong_code_is_refused_and_logs_nobody_in(system: LocalSystem) -> None:
    http = httpx.Client(base_url=system.url)
    http.post("/api/v1/auth/email/start", json={"email": "mallory@example.com"})
    reply = http.post("/api/v1/auth/email/verify", json={"email": "mallory@example.com", "code": "000000"})
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "invalid_code"
    assert http.get("/api/v1/auth/me").status_code == 401


def test_writes_need_the_csrf_token(alice: Client) -> None:
    reply = alice.http.post("/api/v1/positions/open", json={"asset": "SOL", "size_usd": "1000"})
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "csrf_failed"


def test_open_runs_every_stage_and_lists_the_position(system: LocalSystem, alice: Client) -> None:
    accepted = alice.post("/api/v1/positions/open", {"asset": "jitoSOL", "leverage": "2", "size_usd": "1000"})
    assert accepted.status_code == 202, accepted.text
    job = alice.wait_job(accepted.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert [s["name"] for s in job["stages"]] == [
        "queued", "preflight", "reserve", "open_long", "open_short", "validate_fills", "open"]
    positions = alice.get("/api/v1/positions").json()["positions"]
    mine = next(p for p in positions if p["position_id"] == job["position_id"])
    assert mine["status"] == "open"
    long_usd, short_usd = Decimal(mine["long"]["notional_usd"]), Decimal(mine["short"]["notional_usd"])
    # capital 1000 at 2x: 1000 on each leg, the long's less the open fee it paid (what it holds, as at Asgard)
    assert long_usd + Decimal(mine["long"]["fees_usd"]) == Decimal("1000.00") and long_usd < Decimal("1000.00")
    assert abs(long_usd - short_usd) / long_usd <= Decimal("0.01")


def test_close_flattens_both_legs(system: LocalSystem, alice: Client) -> None:
    opened = alice.wait_job(alice.post("/api/v1/positions/open",
                                       {"asset": "SOL", "protocol": "kamino", "size_usd": "600"}).json()["job_id"])
    position_id = opened["position_id"]
    closing = alice.post(f"/api/v1/positions/{position_id}/close")
    assert closing.status_code == 202
    job = alice.wait_job(closing.json()["job_id"])
    assert job["status"] == "succeeded", job
    # the long first (the leg that can fail for longer), then the short: a long never rests without its short
    assert [s["name"] for s in job["stages"]][-4:] == ["close_long", "close_short", "reconcile", "closed"]
    position = alice.get(f"/api/v1/positions/{position_id}").json()
    assert position["status"] == "closed" and position["pnl_usd"] is not None
    assert system.paper is not None
    user_id = alice.get("/api/v1/auth/me").json()["user"]["user_id"]
    assert system.paper.find_long(user_id, position_id) is None
    assert system.paper.find_short(user_id, position_id) is None


def test_a_refused_short_unwinds_the_long(system: LocalSystem, alice: Client) -> None:
    assert system.paper is not None
    system.paper.fail_next("open_short", VenueRejected("insufficient margin"))
    job = alice.wait_job(alice.post("/api/v1/positions/open",
                                    {"asset": "SOL", "size_usd": "500"}).json()["job_id"])
    assert job["status"] == "failed"
    assert "insufficient margin" in job["error"]
    assert "unwind" in [s["name"] for s in job["stages"]]
    user_id = alice.get("/api/v1/auth/me").json()["user"]["user_id"]
    assert system.paper.find_long(user_id, job["position_id"]) is None  # no naked long left behind
    assert alice.get(f"/api/v1/positions/{job['position_id']}").json()["status"] == "failed"


def test_a_transient_venue_error_is_retried(system: LocalSystem, alice: Client) -> None:
    assert system.paper is not None
    system.paper.fail_next("open_short", TransientVenueError("502 from the venue"))
    job = alice.wait_job(alice.post("/api/v1/positions/open",
                                    {"asset": "SOL", "size_usd": "500"}).json()["job_id"])
    assert job["status"] == "succeeded", job


def test_kill_switch_stops_new_positions_before_any_leg(system: LocalSystem, alice: Client) -> None:
    assert system.runtime is not None and system.paper is not None
    before = [p["position_id"] for p in alice.get("/api/v1/positions").json()["positions"]]
    system.runtime.kill_switch.set_kill_switch(KillSwitch.NO_NEW_POSITIONS)
    try:
        refused = alice.post("/api/v1/positions/open", {"asset": "SOL", "size_usd": "500"})
    finally:
        system.runtime.kill_switch.set_kill_switch(KillSwitch.OFF)
    # refused by the API before anything is recorded (an open already started is refused by its Preflight:
    # tests/integration/test_control.py)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "kill_switch", refused.text
    assert "kill switch is no-new-positions" in refused.json()["error"]["message"]
    assert [p["position_id"] for p in alice.get("/api/v1/positions").json()["positions"]] == before


@pytest.mark.parametrize(("body", "field"), [
    ({"asset": "DOGE", "size_usd": "100"}, "asset"),
    ({"asset": "SOL", "size_usd": "100", "leverage": "5"}, "leverage"),
    ({"asset": "SOL", "size_usd": "-1"}, "size_usd"),
    ({"asset": "SOL", "protocol": "aave", "size_usd": "100"}, "protocol"),
    ({"asset": "SOL", "size_usd": "100", "extra": 1}, "extra"),
])
def test_bad_open_requests_get_a_json_422_and_change_nothing(alice: Client, body: dict[str, object],
                                                              field: str) -> None:
    before = len(alice.get("/api/v1/positions").json()["positions"])
    reply = alice.post("/api/v1/positions/open", body)
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["code"] == "invalid_request" and field in error["message"]
    assert len(alice.get("/api/v1/positions").json()["positions"]) == before


def test_too_small_a_position_is_refused_with_its_reason(alice: Client) -> None:
    reply = alice.post("/api/v1/positions/open", {"asset": "SOL", "size_usd": "5", "leverage": "2"})
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "size_too_small"


def test_unknown_routes_and_other_users_jobs_are_json_404s(system: LocalSystem, terminal: Terminal,
                                                           alice: Client) -> None:
    assert httpx.get(f"{system.url}/api/v1/nope").json()["error"]["code"] == "not_found"
    job_id = alice.post("/api/v1/positions/open", {"asset": "SOL", "size_usd": "500"}).json()["job_id"]
    bob = log_in(system, terminal, "bob@example.com")
    reply = bob.get(f"/api/v1/positions/jobs/{job_id}")
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "job_not_found"
    alice.wait_job(job_id)


def test_emergency_stop_is_for_operators_only(system: LocalSystem, terminal: Terminal, alice: Client) -> None:
    assert alice.post("/api/v1/control/emergency-stop").status_code == 403
    operator = log_in(system, terminal, "operator@example.com")
    assert system.runtime is not None
    try:
        status = operator.post("/api/v1/control/emergency-stop").json()
        assert status["kill_switch"] == "close-all"
    finally:
        system.runtime.kill_switch.set_kill_switch(KillSwitch.OFF)


def test_settings_round_trip_and_reset(alice: Client) -> None:
    assert alice.get("/api/v1/settings").json()["preset"] == "balanced"
    saved = alice.post("/api/v1/settings", {"preset": "conservative", "leverage": "2.5",
                                            "max_position_usd": "5000"})
    assert saved.status_code == 200, saved.text
    assert alice.get("/api/v1/settings").json()["leverage"] == "2.5"
    refused = alice.post("/api/v1/settings", {"preset": "conservative", "max_position_usd": "10"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_settings"
    assert alice.get("/api/v1/settings").json()["max_position_usd"] == "5000"
    assert alice.post("/api/v1/settings/reset").json()["preset"] == "balanced"


def test_the_presets_the_settings_page_describes_come_from_the_domain(alice: Client) -> None:
    presets = alice.get("/api/v1/presets").json()
    assert [(p["name"], p["leverage"], p["margin_of_safety"]) for p in presets] == [
        ("conservative", "2", "0.25"), ("balanced", "3", "0.1"), ("aggressive", "3.5", "0")]
    assert {p["name"]: p["max_position_usd"] for p in presets} == {
        "conservative": "25000", "balanced": "50000", "aggressive": "100000"}
    assert presets[1]["exits"]["max_drawdown"] == "0.05"


def test_balances_show_the_wallet_addresses(alice: Client) -> None:
    me = alice.get("/api/v1/auth/me").json()["user"]
    balances = alice.get("/api/v1/balances").json()
    assert balances["solana"]["address"] == me["wallets"]["solana"]
    assert balances["evm"]["address"] == me["wallets"]["evm"]


def test_the_api_lambda_answers_an_http_api_event(system: LocalSystem) -> None:
    """functions/api: the same app behind API Gateway's HTTP API (payload v2) through Mangum."""
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": "/api/v1/rates", "rawQueryString": "leverage=4",
        "headers": {"host": "api.example.com", "accept": "application/json"},
        "requestContext": {"http": {"method": "GET", "path": "/api/v1/rates", "protocol": "HTTP/1.1",
                                    "sourceIp": "203.0.113.1", "userAgent": "test"},
                           "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
                           "requestId": "r1", "routeKey": "$default", "stage": "$default", "time": "",
                           "timeEpoch": 0},
        "isBase64Encoded": False,
    }
    reply = system.functions.invoke("api", event)
    assert reply["statusCode"] == 200
    body = json.loads(reply["body"])
    assert {o["leverage"] for o in body["opportunities"]} == {"4"}


def test_a_partly_filled_short_is_rebalanced_not_unwound(system: LocalSystem, alice: Client) -> None:
    assert system.paper is not None
    system.paper.fill_short_partially(Decimal("0.6"))
    job = alice.wait_job(alice.post("/api/v1/positions/open", {"asset": "SOL", "size_usd": "1000"}).json()["job_id"])
    assert job["status"] == "succeeded", job
    names = [s["name"] for s in job["stages"]]
    assert names.index("rebalance_short") < len(names) - 1 and "unwind" not in names
    position = alice.get(f"/api/v1/positions/{job['position_id']}").json()
    long_usd, short_usd = Decimal(position["long"]["notional_usd"]), Decimal(position["short"]["notional_usd"])
    assert abs(long_usd - short_usd) / long_usd <= Decimal("0.01")


def test_an_unwind_whose_long_cannot_close_keeps_the_short(system: LocalSystem, alice: Client) -> None:
    """The long goes first; when it cannot close, the short is not touched: the position rests in needs_attention
    with what hedge it has instead of leaving a long without its short; its failure says the short (half filled,
    its top-up refused) hedges the long only in part."""
    assert system.paper is not None
    system.paper.fill_short_partially(Decimal("0.5"))
    system.paper.fail_next("adjust_short", VenueRejected("the top-up was refused"))
    system.paper.fail_next("close_long", VenueRejected("Asgard is down"))
    job = alice.wait_job(alice.post("/api/v1/positions/open",
                                    {"asset": "SOL", "protocol": "kamino", "size_usd": "600"}).json()["job_id"])
    assert job["status"] == "failed"
    position = alice.get(f"/api/v1/positions/{job['position_id']}").json()
    assert position["status"] == "needs_attention"
    assert position["failure"].startswith("compensation failed, the long is hedged only in part: the Asgard long "
                                          "could not be closed; its short is "), position["failure"]
    user_id = alice.get("/api/v1/auth/me").json()["user"]["user_id"]
    assert system.paper.find_long(user_id, job["position_id"]) is not None
    assert system.paper.find_short(user_id, job["position_id"]) is not None  # the hedge is still there


def test_best_available_opens_only_where_asgard_can_rebalance_the_long(system: LocalSystem, alice: Client) -> None:
    """Asgard's position updates exist on Kamino and Drift only. With SOL on marginfi paying by far the most,
    "best available" still opens on a protocol where a drifting position can be re-centred; naming marginfi is
    the user's choice, and the job says what it means."""
    assert system.runtime is not None
    system.functions.invoke("rates_poller", {"source": "aws.events"})
    store = system.runtime.store
    latest = store.latest_snapshot()
    assert latest is not None
    rich = tuple(replace(m, supply_apy=Decimal("0.9")) if (m.asset, m.protocol) == (Asset.SOL, Protocol.MARGINFI)
                 else m for m in latest.markets)
    store.put_snapshot(replace(latest, markets=rich))
    rates = httpx.get(f"{system.url}/api/v1/rates", params={"leverage": "3"}).json()
    first = next(o for o in rates["opportunities"] if o["asset"] == "SOL")
    assert (first["protocol"], first["rebalances_in_place"]) == ("marginfi", False)  # the richest SOL pair

    best = alice.wait_job(alice.post("/api/v1/positions/open", {"asset": "SOL", "size_usd": "600"}).json()["job_id"])
    assert best["status"] == "succeeded", best
    opened = alice.get(f"/api/v1/positions/{best['position_id']}").json()
    assert opened["protocol"] in {"kamino", "drift"}
    assert alice.wait_job(alice.post(f"/api/v1/positions/{best['position_id']}/close").json()["job_id"])[
        "status"] == "succeeded"

    named = alice.post("/api/v1/positions/open", {"asset": "SOL", "protocol": "marginfi", "size_usd": "600"})
    job = alice.wait_job(named.json()["job_id"])
    assert job["stages"][0]["name"] == "queued"
    assert "the bot closes it instead of rebalancing" in job["stages"][0]["detail"]
    if job["status"] == "succeeded":
        alice.wait_job(alice.post(f"/api/v1/positions/{job['position_id']}/close").json()["job_id"])
