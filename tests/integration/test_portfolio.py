"""What a trader sees of a position, through the production adapters on the simulator: live health, margin,
liquidation price and PnL by source while open (funding = what Hyperliquid's userFunding paid), realized PnL by
source once closed (kept in the history), the activity log, and the CSV exports."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from dnbot.local.system import LocalSystem
from tests.integration.helpers import Client, Terminal, embedded_system, log_in

pytestmark = pytest.mark.xdist_group("moto")
PARTS = ("funding_usd", "staking_usd", "lending_usd", "borrow_usd", "fees_usd", "price_usd")


@pytest.fixture(scope="module")
def sim_system(tmp_path_factory: pytest.TempPathFactory, terminal: Terminal) -> Iterator[LocalSystem]:
    with embedded_system(tmp_path_factory.mktemp("state"), terminal, "sim", admin_emails=("op@example.com",)) as local:
        yield local


@pytest.fixture
def fay(sim_system: LocalSystem, terminal: Terminal) -> Client:
    """A new trader per test (login codes are rate-limited per address)."""
    return log_in(sim_system, terminal, f"fay-{uuid.uuid4().hex[:8]}@example.com")


def _opened(fay: Client, leverage: str, size_usd: str) -> dict[str, Any]:
    """A SOL/drift position opened through the API: its finished (succeeded) job."""
    job = fay.wait_job(fay.post("/api/v1/positions/open", {"asset": "SOL", "protocol": "drift", "leverage": leverage,
                                                            "size_usd": size_usd}).json()["job_id"], timeout=60)
    assert job["status"] == "succeeded", job
    return job


def _hours_later(system: LocalSystem, terminal: Terminal, email: str, hours: int) -> Client:
    """The simulator's clock `hours` on and fresh rates polled; the idle hours ended the session: logged in again."""
    assert system.sim is not None
    httpx.post(f"{system.sim.base_url}/sim/clock", json={"advance_hours": hours})
    system.functions.invoke("rates_poller", {})
    return log_in(system, terminal, email)


def _sums_to_total(pnl: dict[str, str]) -> None:
    assert sum(Decimal(pnl[part]) for part in PARTS) == Decimal(pnl["total_usd"]), pnl
    for part in (*PARTS, "total_usd"):
        assert Decimal(pnl[part]) == Decimal(pnl[part]).quantize(Decimal("0.01"))


def test_an_open_position_shows_live_risk_and_pnl_by_source_then_its_realized_history(
        sim_system: LocalSystem, terminal: Terminal, fay: Client) -> None:
    assert sim_system.sim is not None
    job = _opened(fay, "3", "1200")
    me = fay.get("/api/v1/auth/me").json()["user"]
    fay = _hours_later(sim_system, terminal, me["email"], 3)
    paid = httpx.post(f"{sim_system.sim.url('hyperliquid')}/info",
                      json={"type": "userFunding", "user": me["wallets"]["evm"], "startTime": 0}).json()
    funding = sum((Decimal(p["delta"]["usdc"]) for p in paid), Decimal(0))

    page = fay.get("/api/v1/positions?view=active").json()
    assert page["total"] == 1 and page["next_cursor"] is None
    live = page["positions"][0]
    assert live["status"] == "open" and live["pnl_kind"] == "unrealized"
    assert Decimal(live["health_factor"]) > 1
    assert Decimal(live["margin_ratio"]) > 0
    for ratio in ("health_factor", "margin_ratio"):  # 4 decimals at most, not the raw 28-digit quotient
        assert -Decimal(live[ratio]).as_tuple().exponent <= 4, (ratio, live[ratio])
    sol = Decimal(live["sol_price_usd"])
    assert Decimal(live["short_liquidation_price_usd"]) > sol > Decimal(live["long_liquidation_price_usd"]) > 0
    # at 3x the long (a SOL drop) is the nearer liquidation, and liquidation_price_usd is the nearer leg's
    assert live["first_liquidation"] == "long"
    assert live["liquidation_price_usd"] == live["long_liquidation_price_usd"]
    assert abs(Decimal(live["liquidation_distance_pct"]) - (1 - Decimal(live["long_liquidation_price_usd"]) / sol)
               * 100) < Decimal("0.01")  # the price is to the cent
    assert 0 < Decimal(live["liquidation_distance_pct"]) < 100
    assert live["stale_since"] is None and live["unreadable"] == []
    assert Decimal(live["long"]["value_usd"]) > 0 and Decimal(live["short"]["value_usd"]) > 0
    assert Decimal(live["long"]["debt_usd"]) > 0
    _sums_to_total(live["pnl"])
    assert Decimal(live["pnl"]["funding_usd"]) == funding.quantize(Decimal("0.01"))
    assert Decimal(live["pnl"]["fees_usd"]) < 0 and Decimal(live["pnl"]["borrow_usd"]) < 0
    assert live["pnl_usd"] == live["pnl"]["total_usd"]

    closing = fay.wait_job(fay.post(f"/api/v1/positions/{job['position_id']}/close").json()["job_id"], timeout=60)
    assert closing["status"] == "succeeded", closing
    assert fay.get("/api/v1/positions?view=active").json()["positions"] == []
    history = fay.get("/api/v1/positions?view=history&limit=10").json()["positions"]
    closed = next(p for p in history if p["position_id"] == job["position_id"])
    assert closed["status"] == "closed" and closed["pnl_kind"] == "realized" and closed["closed_at"]
    assert closed["close_reason"] == "requested by user"
    assert closed["health_factor"] is None  # no live reads for a closed position
    _sums_to_total(closed["pnl"])
    assert Decimal(closed["pnl"]["funding_usd"]) == funding.quantize(Decimal("0.01"))

    events = fay.get("/api/v1/activity").json()["events"]
    kinds = [e["kind"] for e in events if e.get("position_id") == job["position_id"]]
    assert kinds[:2] == ["position_closed", "position_opened"]  # newest first
    assert events[0]["message"].startswith("Closed SOL (requested by user): realized ")

    exported = list(csv.DictReader(io.StringIO(fay.get("/api/v1/positions.csv").text)))
    row = next(r for r in exported if r["position_id"] == job["position_id"])
    assert row["total_usd"] == closed["pnl"]["total_usd"] and row["status"] == "closed"
    funding_rows = [r for r in csv.DictReader(io.StringIO(fay.get("/api/v1/funding.csv").text))
                    if r["position_id"] == job["position_id"]]
    assert len(funding_rows) >= 3
    assert sum(Decimal(r["funding_usd"]) for r in funding_rows).quantize(Decimal("0.01")) == \
        Decimal(closed["pnl"]["funding_usd"])


def _funding_rows(fay: Client, query: str = "") -> list[dict[str, str]]:
    reply = fay.get(f"/api/v1/funding.csv{query}")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/csv")
    assert reply.headers["content-disposition"] == 'attachment; filename="dnbot-funding.csv"'
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert reply.text.startswith("time_utc,position_id,asset,funding_usd,account_funding_usd,position_size_sol,"
                                 "funding_rate_hourly\r\n")
    return rows


def test_the_funding_export_has_each_positions_share_of_each_hourly_payment(
        sim_system: LocalSystem, terminal: Terminal, fay: Client) -> None:
    """Two positions share one Hyperliquid account for several hours: each payment is split by their sizes, and
    a position's rows sum to its funding PnL to the cent, open and then closed."""
    assert sim_system.sim is not None
    small = _opened(fay, "2", "500")
    me = fay.get("/api/v1/auth/me").json()["user"]
    fay = _hours_later(sim_system, terminal, me["email"], 2)  # fresh rates for the second open's preflight
    large = _opened(fay, "3", "1500")
    fay = _hours_later(sim_system, terminal, me["email"], 3)
    ids = (small["position_id"], large["position_id"])

    rows = _funding_rows(fay)
    mine = [r for r in rows if r["position_id"] in ids]
    assert [r["time_utc"] for r in mine] == sorted(r["time_utc"] for r in mine)  # oldest first
    by_hour: dict[str, list[dict[str, str]]] = {}
    for row in mine:
        by_hour.setdefault(row["time_utc"], []).append(row)
        assert row["asset"] == "SOL" and Decimal(row["position_size_sol"]) > 0
        assert datetime.fromisoformat(row["time_utc"]).utcoffset() == timedelta(0)
    shared = [hour for hour, both in by_hour.items() if len(both) == 2]
    assert len(shared) >= 3 and len(by_hour) >= len(shared) + 2  # two hours alone, then three together
    for hour in shared:
        one, other = by_hour[hour]
        assert one["account_funding_usd"] == other["account_funding_usd"]
        # the whole payment, split by the two shorts' sizes (nobody else holds a short on this account)
        assert Decimal(one["funding_usd"]) + Decimal(other["funding_usd"]) == Decimal(one["account_funding_usd"])
        bigger, lesser = sorted((one, other), key=lambda r: Decimal(r["position_size_sol"]), reverse=True)
        assert abs(Decimal(bigger["funding_usd"])) >= abs(Decimal(lesser["funding_usd"]))
        assert bigger["funding_rate_hourly"] == lesser["funding_rate_hourly"]

    def summed(position_id: str, export: list[dict[str, str]]) -> Decimal:
        return sum((Decimal(r["funding_usd"]) for r in export if r["position_id"] == position_id),
                   Decimal(0)).quantize(Decimal("0.01"))

    live = {p["position_id"]: p for p in fay.get("/api/v1/positions?view=active").json()["positions"]}
    for position_id in ids:
        assert summed(position_id, rows) == Decimal(live[position_id]["pnl"]["funding_usd"]) != 0

    closing = fay.wait_job(fay.post(f"/api/v1/positions/{small['position_id']}/close").json()["job_id"], timeout=60)
    assert closing["status"] == "succeeded", closing
    history = fay.get("/api/v1/positions?view=history&limit=50").json()["positions"]
    closed = next(p for p in history if p["position_id"] == small["position_id"])
    assert summed(small["position_id"], _funding_rows(fay)) == Decimal(closed["pnl"]["funding_usd"])

    first_hour = min(by_hour)
    half_past = (datetime.fromisoformat(first_hour) + timedelta(minutes=30)).isoformat()[:19]  # naive = UTC
    window = _funding_rows(fay, f"?since={first_hour.replace('+00:00', 'Z')}&until={half_past}")
    assert {r["time_utc"] for r in window if r["position_id"] in ids} == {first_hour}


@pytest.mark.parametrize("query", ["?since=yesterday", "?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
                                   "?since=2024-01-01T00:00:00Z&until=2026-01-01T00:00:00Z"])
def test_a_bad_funding_export_range_is_a_422(fay: Client, query: str) -> None:
    reply = fay.get(f"/api/v1/funding.csv{query}")
    assert reply.status_code == 422 and reply.headers["content-type"].startswith("application/json")
    assert reply.json()["error"]["code"] in ("invalid_request", "invalid_range")


def test_activity_pages_newest_first_and_a_bad_cursor_is_a_400(fay: Client) -> None:
    assert fay.post("/api/v1/control/start").status_code == 200
    assert fay.post("/api/v1/control/stop").status_code == 200
    first = fay.get("/api/v1/activity?limit=1").json()
    assert first["events"][0]["message"].startswith("Strategy stopped: the bot is on standby")
    assert len(first["events"]) == 1 and first["next_cursor"]
    second = fay.get(f"/api/v1/activity?limit=1&cursor={first['next_cursor']}").json()
    assert second["events"][0]["at"] <= first["events"][0]["at"]
    assert second["events"][0] != first["events"][0]
    reply = fay.get("/api/v1/activity?cursor=bm9wZQ")
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "invalid_cursor"
    assert fay.get("/api/v1/positions?cursor=x").status_code == 400


def test_an_unreadable_venue_leaves_nulls_and_says_since_when(sim_system: LocalSystem, fay: Client) -> None:
    assert sim_system.sim is not None and sim_system.runtime is not None
    job = _opened(fay, "2", "600")
    fault = {"venue": "asgard", "call": "refresh-positions", "kind": "5xx", "times": 50}
    assert httpx.post(f"{sim_system.sim.base_url}/sim/faults", json=fault).status_code == 201
    try:
        reply = fay.get("/api/v1/positions?view=active")
    finally:
        httpx.delete(f"{sim_system.sim.base_url}/sim/faults")
    assert reply.status_code == 200
    live = reply.json()["positions"][0]
    assert live["health_factor"] is None and "asgard" in live["unreadable"] and live["stale_since"]
    assert live["margin_ratio"] is not None  # the other venue still reads
    # without Asgard only the short's liquidation is known: the nearer one said is the short's, never a guess
    assert live["long_liquidation_price_usd"] is None and live["first_liquidation"] == "short"
    assert live["liquidation_price_usd"] == live["short_liquidation_price_usd"] is not None
    fay.wait_job(fay.post(f"/api/v1/positions/{job['position_id']}/close").json()["job_id"], timeout=60)


def test_the_max_position_size_is_enforced_and_settings_changes_are_in_the_activity(fay: Client) -> None:
    assert fay.post("/api/v1/settings", {"preset": "balanced", "leverage": "3", "max_position_usd": "500"}
                    ).status_code == 200
    try:
        reply = fay.post("/api/v1/positions/open", {"asset": "SOL", "leverage": "3", "size_usd": "600"})
        assert reply.status_code == 400
        assert reply.json()["error"]["code"] == "over_max_position"
        assert "maximum position size of $500.00" in reply.json()["error"]["message"]
    finally:
        assert fay.post("/api/v1/settings/reset").status_code == 200
    kinds = [e["kind"] for e in fay.get("/api/v1/activity?limit=2").json()["events"]]
    assert kinds == ["settings", "settings"]


def test_only_an_operator_sets_the_kill_switch_and_sets_it_back(sim_system: LocalSystem, terminal: Terminal,
                                                                 fay: Client) -> None:
    assert fay.get("/api/v1/status").json()["operator"] is False
    refused = fay.post("/api/v1/control/kill-switch", {"value": "close-all"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_an_operator"
    op = log_in(sim_system, terminal, "op@example.com")
    assert op.get("/api/v1/status").json()["operator"] is True
    try:
        assert op.post("/api/v1/control/kill-switch", {"value": "no-new-positions"}).json()["kill_switch"] == \
            "no-new-positions"
        assert fay.get("/api/v1/status").json()["kill_switch"] == "no-new-positions"
    finally:
        assert op.post("/api/v1/control/kill-switch", {"value": "off"}).json()["kill_switch"] == "off"
    messages = [e["message"] for e in op.get("/api/v1/activity").json()["events"] if e["kind"] == "kill_switch"]
    assert messages[:2] == ["Kill switch set to off by op@example.com.",
                            "Kill switch set to no-new-positions by op@example.com."]


def test_hourly_snapshots_feed_the_charts_with_entries_and_exits_on_the_funding(sim_system: LocalSystem,
                                                                                fay: Client) -> None:
    job = _opened(fay, "2", "600")
    assert sim_system.functions.invoke("pnl_snapshots", {"source": "aws.events"})["snapshots"] >= 1
    points = fay.get(f"/api/v1/charts/positions/{job['position_id']}").json()["points"]
    assert len(points) == 1
    assert sum(Decimal(points[0][part]) for part in PARTS) == Decimal(points[0]["total_usd"])
    fay.wait_job(fay.post(f"/api/v1/positions/{job['position_id']}/close").json()["job_id"], timeout=60)
    closed = fay.get(f"/api/v1/charts/positions/{job['position_id']}").json()["points"]
    realized = next(p for p in fay.get("/api/v1/positions?view=history").json()["positions"]
                    if p["position_id"] == job["position_id"])["pnl"]["total_usd"]
    assert closed[-1]["total_usd"] == realized  # the curve ends at the realized PnL
    account = fay.get("/api/v1/charts/account").json()["points"]
    assert account and Decimal(account[-1]["total_usd"]) != 0

    funding = fay.get("/api/v1/charts/funding?hours=48").json()
    assert len(funding["points"]) == 48 and funding["points"][0]["at"] < funding["points"][-1]["at"]
    kinds = {(m["position_id"], m["kind"]) for m in funding["markers"]}
    assert {(job["position_id"], "entry"), (job["position_id"], "exit")} <= kinds
    assert fay.get("/api/v1/charts/positions/nope").status_code == 404


def test_the_backtest_page_runs_the_cli_engine(fay: Client) -> None:
    reply = fay.get("/api/v1/backtest?preset=balanced&capital=10000")
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["hours"] > 0 and result["series"]
    assert sum(Decimal(v) for v in result["pnl"].values()) == Decimal(result["total_pnl"])
    assert fay.get("/api/v1/backtest?preset=reckless").json()["error"]["code"] == "invalid_preset"
