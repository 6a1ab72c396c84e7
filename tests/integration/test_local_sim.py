"""The embedded default as `make run` starts it: every venue through its production adapter against the in-process
simulator. A position opens and closes for real (Privy-signed Solana and EIP-712, Asgard, Hyperliquid), and a
venue refusal mid-open leaves no naked leg."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from dnbot.local.system import LocalSystem
from tests.integration.helpers import Client, Terminal, log_in

pytestmark = pytest.mark.xdist_group("moto")


@pytest.fixture(scope="module")
def erin(sim_system: LocalSystem, terminal: Terminal) -> Client:
    return log_in(sim_system, terminal, "erin@example.com")


def test_rates_come_from_the_simulated_venues(sim_system: LocalSystem) -> None:
    rates = httpx.get(f"{sim_system.url}/api/v1/rates").json()
    assert rates["source"] == "sim"
    assert Decimal(rates["hyperliquid"]["oracle_price"]) > 0 and rates["asgard"]


def test_a_new_user_gets_real_wallets_with_demo_funds(erin: Client) -> None:
    balances = erin.get("/api/v1/balances").json()
    assert Decimal(balances["solana"]["usdc"]) == 5000 and Decimal(balances["hyperliquid"]["account_value_usd"]) == 5000


def test_open_and_close_through_the_production_adapters(sim_system: LocalSystem, erin: Client,
                                                        terminal: Terminal) -> None:
    job = erin.wait_job(erin.post("/api/v1/positions/open",
                                  {"asset": "SOL", "protocol": "drift", "leverage": "3", "size_usd": "1200"}
                                  ).json()["job_id"], timeout=60)
    assert job["status"] == "succeeded", job
    position = erin.get(f"/api/v1/positions/{job['position_id']}").json()
    long_usd, short_usd = Decimal(position["long"]["notional_usd"]), Decimal(position["short"]["notional_usd"])
    assert abs(long_usd - short_usd) / long_usd < Decimal("0.01")
    me = erin.get("/api/v1/auth/me").json()["user"]
    state = httpx.get(f"{sim_system.sim.base_url}/sim/hyperliquid/accounts/{me['wallets']['evm']}").json()  # type: ignore[union-attr]
    assert Decimal(state["assetPositions"][0]["position"]["szi"]) == -Decimal(position["short"]["size"])

    # three funding hours pass: the short collects (or pays) each one, and the realized PnL includes it
    assert sim_system.sim is not None
    httpx.post(f"{sim_system.sim.base_url}/sim/clock", json={"advance_hours": 3})
    # three idle hours end the login session (idle timeout): erin logs in again
    fresh = log_in(sim_system, terminal, "erin@example.com")
    erin.http, erin.csrf = fresh.http, fresh.csrf
    sim_system.functions.invoke("rates_poller", {})  # keep the rates fresh for the tests that follow
    payments = httpx.post(f"{sim_system.sim.url('hyperliquid')}/info",
                          json={"type": "userFunding", "user": me["wallets"]["evm"], "startTime": 0}).json()
    funding = sum(Decimal(p["delta"]["usdc"]) for p in payments)
    assert len(payments) >= 2 and funding != 0

    reply = erin.post(f"/api/v1/positions/{job['position_id']}/close")
    assert reply.status_code == 202, reply.text
    closing = erin.wait_job(reply.json()["job_id"], timeout=60)
    assert closing["status"] == "succeeded", closing
    assert f"(funding ${funding.quantize(Decimal('0.01'))})" in closing["stages"][-1]["detail"]
    assert erin.get(f"/api/v1/positions/{job['position_id']}").json()["status"] == "closed"
    state = httpx.get(f"{sim_system.sim.base_url}/sim/hyperliquid/accounts/{me['wallets']['evm']}").json()  # type: ignore[union-attr]
    assert state["assetPositions"] == []


def test_a_refused_short_unwinds_the_asgard_long(sim_system: LocalSystem, erin: Client) -> None:
    assert sim_system.sim is not None
    fault = {"venue": "hyperliquid", "call": "order", "kind": "reject", "times": 10,
             "message": "Insufficient margin to place order."}
    assert httpx.post(f"{sim_system.sim.base_url}/sim/faults", json=fault).status_code == 201
    try:
        job = erin.wait_job(erin.post("/api/v1/positions/open", {"asset": "SOL", "protocol": "kamino",
                                                                  "leverage": "2", "size_usd": "800"}
                                      ).json()["job_id"], timeout=60)
    finally:
        httpx.delete(f"{sim_system.sim.base_url}/sim/faults")
    assert job["status"] == "failed"
    assert "Insufficient margin" in job["error"]
    assert [s["name"] for s in job["stages"] if s["name"] in ("open_long", "unwind")] == ["open_long", "unwind"]
    open_longs = [p for p in httpx.get(f"{sim_system.sim.base_url}/sim/asgard/positions").json()
                  if p.get("state") == 0]
    assert open_longs == []  # the long was closed again: no naked leg


def test_a_partial_fill_at_hyperliquid_is_topped_up(sim_system: LocalSystem, erin: Client) -> None:
    assert sim_system.sim is not None
    fault = {"venue": "hyperliquid", "call": "order", "kind": "partial_fill", "fill_fraction": "0.5", "times": 1}
    assert httpx.post(f"{sim_system.sim.base_url}/sim/faults", json=fault).status_code == 201
    job = erin.wait_job(erin.post("/api/v1/positions/open", {"asset": "SOL", "protocol": "drift", "leverage": "2",
                                                              "size_usd": "1000"}).json()["job_id"], timeout=60)
    assert job["status"] == "succeeded", job
    assert "rebalance_short" in [s["name"] for s in job["stages"]]
    position = erin.get(f"/api/v1/positions/{job['position_id']}").json()
    me = erin.get("/api/v1/auth/me").json()["user"]
    state = httpx.get(f"{sim_system.sim.base_url}/sim/hyperliquid/accounts/{me['wallets']['evm']}").json()
    assert Decimal(state["assetPositions"][0]["position"]["szi"]) == -Decimal(position["short"]["size"])
    closing = erin.wait_job(erin.post(f"/api/v1/positions/{job['position_id']}/close").json()["job_id"], timeout=60)
    assert closing["status"] == "succeeded", closing


def test_the_tick_reads_balances_and_risk_from_the_venues(sim_system: LocalSystem, erin: Client) -> None:
    assert erin.post("/api/v1/control/start").json()["bot_status"] == "running"
    job = erin.wait_job(erin.post("/api/v1/positions/open", {"asset": "SOL", "protocol": "drift", "leverage": "2",
                                                              "size_usd": "600"}).json()["job_id"], timeout=60)
    assert job["status"] == "succeeded", job
    assert sim_system.runtime is not None
    position = sim_system.runtime.store.get_position(erin.get("/api/v1/auth/me").json()["user"]["user_id"],
                                                     job["position_id"])
    assert position is not None
    readings = sim_system.runtime.risk.readings(position)
    assert readings.health_factor is not None and readings.health_factor > 1
    assert readings.margin_ratio is not None and readings.short_liquidation_price is not None
    assert sim_system.queues is not None
    failed_before = sim_system.queues.failed
    report = sim_system.functions.invoke("strategy_tick", {})
    assert report["errors"] == {} and report["enqueued"] == 2  # the users' and the open positions' pages
    sim_system.queues.wait_idle()  # the worker decided for erin (and every other running user)
    assert sim_system.queues.failed == failed_before
    erin.post("/api/v1/control/stop")
    closing = erin.wait_job(erin.post(f"/api/v1/positions/{job['position_id']}/close").json()["job_id"], timeout=60)
    assert closing["status"] == "succeeded"
