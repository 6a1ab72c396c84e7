"""What the product shows about money against the venues' own truth, through `dnbot local` on the simulator: the
long's live debt and value are Asgard's (its debt grows with the borrow interest it accrues hourly), the funding
is what Hyperliquid's userFunding paid, and a close's realized PnL is what the user's venue balances gained (Solana
USDC + Hyperliquid account value), less only the SOL the Solana transactions cost."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from dnbot.local.system import LocalSystem
from tests.integration.helpers import Client, Terminal, log_in

pytestmark = pytest.mark.xdist_group("moto")
CENT = Decimal("0.01")


def _venue_money(system: LocalSystem, wallets: dict[str, str]) -> dict[str, Decimal]:
    """The user's balances as the simulated venues hold them."""
    assert system.sim is not None
    solana = httpx.get(f"{system.sim.base_url}/sim/solana/balances/{wallets['solana']}").json()
    state = httpx.post(f"{system.sim.url('hyperliquid')}/info",
                       json={"type": "clearinghouseState", "user": wallets["evm"]}).json()
    return {"usdc": Decimal(solana["usdc"]), "sol": Decimal(solana["sol"]),
            "hyperliquid": Decimal(state["marginSummary"]["accountValue"])}


def _asgard_long(system: LocalSystem, wallet: str, pda: str) -> dict[str, Decimal]:
    """The long as Asgard reads it now (/refresh-positions): its units, value and USDC debt, and its debt at the
    open (the position record's tokenBAmountUIEntry)."""
    assert system.sim is not None
    record = next(p for p in httpx.get(f"{system.sim.base_url}/sim/asgard/positions").json()
                  if p["positionPda"] == pda)
    answer = httpx.post(f"{system.sim.url('asgard')}/refresh-positions", headers={"X-API-Key": "test"},
                        json={"walletPubkey": wallet,
                              "positionPDAs": [{"protocol": record["protocol"], "positionPDA": pda}]}).json()
    balances: dict[str, Any] = {}
    for entry in answer["positions"][pda]["summary"]["booksAndBalances"]["balances"]:
        balances.update(entry)
    long_bank, usdc_bank = balances[record["tokenABank"]], balances[record["tokenBBank"]]
    return {"size": Decimal(str(long_bank["assetsQt"])), "value": Decimal(str(long_bank["assetsUsd"])),
            "debt": Decimal(str(usdc_bank["liabsQt"])), "debt_at_open": Decimal(record["tokenBAmountUIEntry"])}


def test_the_long_debt_and_value_are_asgards_and_the_realized_pnl_is_what_the_venues_paid(
        sim_system: LocalSystem, terminal: Terminal) -> None:
    assert sim_system.sim is not None
    email = f"judge-{uuid.uuid4().hex[:8]}@example.com"
    trader: Client = log_in(sim_system, terminal, email)
    wallets = trader.get("/api/v1/auth/me").json()["user"]["wallets"]
    before = _venue_money(sim_system, wallets)
    opened = trader.wait_job(trader.post("/api/v1/positions/open", {
        "asset": "SOL", "protocol": "drift", "leverage": "3", "size_usd": "3000"}).json()["job_id"], timeout=60)
    assert opened["status"] == "succeeded", opened
    position_id = opened["position_id"]
    assert trader.get(f"/api/v1/positions/{position_id}").json()["pnl"]["funding_usd"] == "0.00"  # read (cached)

    httpx.post(f"{sim_system.sim.base_url}/sim/clock", json={"advance_hours": 3})
    sim_system.functions.invoke("rates_poller", {})
    trader = log_in(sim_system, terminal, email)  # the idle hours ended the session
    live = trader.get(f"/api/v1/positions/{position_id}").json()
    asgard = _asgard_long(sim_system, wallets["solana"], live["long"]["reference"])

    # the debt shown is Asgard's now: three hours of borrow interest on what the open borrowed
    assert asgard["debt"] > asgard["debt_at_open"]
    assert Decimal(live["long"]["debt_usd"]) == asgard["debt"].quantize(CENT)
    # the value shown is Asgard's: its units (with the supply interest) at its price (which moves within the hour)
    assert abs(Decimal(live["long"]["value_usd"]) - asgard["value"]) <= Decimal("0.05"), (live["long"], asgard)
    assert asgard["size"] > Decimal(live["long"]["size"])  # the supply interest grew the units the ledger shows

    # the open position's PnL is what the venues hold for the user now: the Solana USDC and the Hyperliquid account
    # value (its short at Hyperliquid's own mark) changed by this much, and Asgard holds the long's equity
    now = _venue_money(sim_system, wallets)
    held = (now["usdc"] - before["usdc"] + now["hyperliquid"] - before["hyperliquid"]
            + asgard["value"] - asgard["debt"])
    unrealized = Decimal(live["pnl"]["total_usd"])
    print(f"open: unrealized {unrealized} vs the venues' {held:.6f}")
    assert live["pnl_kind"] == "unrealized" and abs(unrealized - held) <= Decimal("0.06"), (unrealized, held)

    paid = httpx.post(f"{sim_system.sim.url('hyperliquid')}/info",
                      json={"type": "userFunding", "user": wallets["evm"], "startTime": 0}).json()
    funding = sum((Decimal(p["delta"]["usdc"]) for p in paid), Decimal(0))
    assert len(paid) == 3 and Decimal(live["pnl"]["funding_usd"]) == funding.quantize(CENT)

    closing = trader.wait_job(trader.post(f"/api/v1/positions/{position_id}/close").json()["job_id"], timeout=60)
    assert closing["status"] == "succeeded", closing
    after = _venue_money(sim_system, wallets)
    closed = trader.get(f"/api/v1/positions/{position_id}").json()
    assert closed["status"] == "closed" and closed["pnl_kind"] == "realized"
    gained = after["usdc"] - before["usdc"] + after["hyperliquid"] - before["hyperliquid"]
    # the Solana network fees and Jito tips are paid in SOL, outside the USDC the PnL counts
    sol_spent_usd = (before["sol"] - after["sol"]) * Decimal(live["sol_price_usd"])
    realized = Decimal(closed["pnl"]["total_usd"])
    assert abs(realized - gained) <= sol_spent_usd + CENT, (realized, gained, sol_spent_usd)
    assert Decimal(closed["pnl"]["funding_usd"]) == funding.quantize(CENT)
    # the fees part is every fee the venues charged: Asgard's open and close fees, both Hyperliquid taker fills
    record = next(p for p in httpx.get(f"{sim_system.sim.base_url}/sim/asgard/positions").json()
                  if p["positionPda"] == live["long"]["reference"])
    fills = httpx.post(f"{sim_system.sim.url('hyperliquid')}/info",
                       json={"type": "userFills", "user": wallets["evm"]}).json()
    charged = (Decimal(str(record["openFeesMetadata"]["protocolFeeUSD"]))
               + Decimal(str(record["closeFeesMetadata"]["protocolFeeUSD"]))
               + sum((Decimal(f["fee"]) for f in fills), Decimal(0)))
    assert len(fills) == 2 and abs(-Decimal(closed["pnl"]["fees_usd"]) - charged) <= 2 * CENT, (closed, charged)
    assert sum(Decimal(closed["pnl"][f"{part}_usd"]) for part in
               ("funding", "staking", "lending", "borrow", "fees", "price")) == realized


def test_a_position_asgard_liquidated_shows_what_the_venues_paid_and_the_penalty_as_a_fee(
        sim_system: LocalSystem, terminal: Terminal) -> None:
    """SOL falls 25% for an hour: Asgard liquidates the 3x long (5% penalty); the reconciler closes the remnant and
    buys back the short. The realized PnL is what the balances lost; its fees part holds the penalty."""
    assert sim_system.sim is not None
    email = f"liquidated-{uuid.uuid4().hex[:8]}@example.com"
    trader = log_in(sim_system, terminal, email)
    me = trader.get("/api/v1/auth/me").json()["user"]
    wallets = me["wallets"]
    before = _venue_money(sim_system, wallets)
    opened = trader.wait_job(trader.post("/api/v1/positions/open", {
        "asset": "SOL", "protocol": "drift", "leverage": "3", "size_usd": "3000"}).json()["job_id"], timeout=60)
    assert opened["status"] == "succeeded", opened
    position_id = opened["position_id"]
    pda = trader.get(f"/api/v1/positions/{position_id}").json()["long"]["reference"]
    try:
        httpx.post(f"{sim_system.sim.base_url}/sim/market", json={"sol_price_factor": "0.75"})
        httpx.post(f"{sim_system.sim.base_url}/sim/clock", json={"advance_hours": 1})
        record = next(p for p in httpx.get(f"{sim_system.sim.base_url}/sim/asgard/positions").json()
                      if p["positionPda"] == pda)
        assert len(record["liquidationEvents"]) == 1
        report = sim_system.functions.invoke("reconciler", {"user_id": me["user_id"]})
        assert me["user_id"] not in report["errors"], report
    finally:
        httpx.post(f"{sim_system.sim.base_url}/sim/market", json={"sol_price_factor": "1"})
    trader = log_in(sim_system, terminal, email)
    closed = trader.get(f"/api/v1/positions/{position_id}").json()
    assert closed["status"] == "closed" and "liquidated" in closed["close_reason"], closed
    after = _venue_money(sim_system, wallets)
    gained = after["usdc"] - before["usdc"] + after["hyperliquid"] - before["hyperliquid"]
    realized = Decimal(closed["pnl"]["total_usd"])
    assert abs(realized - gained) <= (before["sol"] - after["sol"]) * 200 + CENT, (realized, gained)

    record = next(p for p in httpx.get(f"{sim_system.sim.base_url}/sim/asgard/positions").json()
                  if p["positionPda"] == pda)
    event = record["liquidationEvents"][0]
    penalty = (Decimal(event["seizedAmountUI"]) * Decimal(event["liquidationPriceUSD"])
               - Decimal(event["repaidAmountUI"]))
    fills = httpx.post(f"{sim_system.sim.url('hyperliquid')}/info",
                       json={"type": "userFills", "user": wallets["evm"]}).json()
    charged = (Decimal(str(record["openFeesMetadata"]["protocolFeeUSD"]))
               + Decimal(str(record["closeFeesMetadata"]["protocolFeeUSD"])) + penalty
               + sum((Decimal(f["fee"]) for f in fills), Decimal(0)))
    assert penalty > 50 and abs(-Decimal(closed["pnl"]["fees_usd"]) - charged) <= 2 * CENT, (closed["pnl"], charged)
    paid = httpx.post(f"{sim_system.sim.url('hyperliquid')}/info",
                      json={"type": "userFunding", "user": wallets["evm"], "startTime": 0}).json()
    assert Decimal(closed["pnl"]["funding_usd"]) == sum((Decimal(p["delta"]["usdc"]) for p in paid),
                                                        Decimal(0)).quantize(CENT)
    events = trader.get("/api/v1/activity").json()["events"]
    assert any(e["kind"] == "position_closed" and e.get("position_id") == position_id for e in events)


def test_an_unwound_open_shows_what_the_venues_kept_with_both_asgard_fees(sim_system: LocalSystem,
                                                                          terminal: Terminal) -> None:
    """Hyperliquid refuses the short: the long is closed again. The failed position's realized PnL is what the
    balances lost, and its fees part is Asgard's open and close fees."""
    assert sim_system.sim is not None
    sim_system.functions.invoke("rates_poller", {})  # fresh rates for the preflight (earlier tests moved the clock)
    trader = log_in(sim_system, terminal, f"unwound-{uuid.uuid4().hex[:8]}@example.com")
    wallets = trader.get("/api/v1/auth/me").json()["user"]["wallets"]
    before = _venue_money(sim_system, wallets)
    fault = {"venue": "hyperliquid", "call": "order", "kind": "reject", "times": 20}
    assert httpx.post(f"{sim_system.sim.base_url}/sim/faults", json=fault).status_code == 201
    try:
        job = trader.wait_job(trader.post("/api/v1/positions/open", {
            "asset": "SOL", "protocol": "drift", "leverage": "3", "size_usd": "3000"}).json()["job_id"], timeout=60)
    finally:
        httpx.delete(f"{sim_system.sim.base_url}/sim/faults")
    assert job["status"] == "failed", job
    failed = trader.get(f"/api/v1/positions/{job['position_id']}").json()
    assert failed["status"] == "failed" and failed["pnl_kind"] == "realized"
    after = _venue_money(sim_system, wallets)
    gained = after["usdc"] - before["usdc"] + after["hyperliquid"] - before["hyperliquid"]
    assert after["hyperliquid"] == before["hyperliquid"] and gained < 0, failed["failure"]
    assert abs(Decimal(failed["pnl"]["total_usd"]) - gained) <= CENT, (failed["pnl"], gained)
    record = next(p for p in httpx.get(f"{sim_system.sim.base_url}/sim/asgard/positions").json()
                  if p["ownerAddress"] == wallets["solana"])
    charged = (Decimal(str(record["openFeesMetadata"]["protocolFeeUSD"]))
               + Decimal(str(record["closeFeesMetadata"]["protocolFeeUSD"])))
    assert abs(-Decimal(failed["pnl"]["fees_usd"]) - charged) <= CENT, (failed["pnl"], charged)
