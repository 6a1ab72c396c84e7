"""Withdrawals on `dnbot local` with every venue simulated: the emailed (printed) code, one payment per
confirmation through the user's Privy wallet signed with the KMS key, refusals that move nothing."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair

from dnbot.local.system import LocalSystem
from tests.integration.helpers import Client, Terminal, log_in

pytestmark = pytest.mark.xdist_group("moto")

OUTSIDE = str(Keypair().pubkey())  # somebody else's wallet


@pytest.fixture(scope="module")
def alice(sim_system: LocalSystem, terminal: Terminal) -> Client:
    return log_in(sim_system, terminal, "alice-w@example.com")


def _balances(system: LocalSystem, address: str) -> dict[str, Decimal]:
    assert system.sim is not None
    described = httpx.get(f"{system.sim.base_url}/sim/solana/balances/{address}").json()
    return {k: Decimal(v) for k, v in described.items() if k in ("sol", "usdc")}


def _code(terminal: Terminal, email: str) -> str:
    for line in reversed(terminal.lines):
        if line.startswith(f"dnbot local: withdrawal code for {email}: "):
            return line.rsplit(" ", 1)[-1]
    raise AssertionError(f"no withdrawal code printed for {email}")


def _wait(client: Client, withdrawal_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = client.get(f"/api/v1/withdrawals/{withdrawal_id}").json()
        if state["status"] in ("sent", "failed"):
            return dict(state)
        time.sleep(0.1)
    raise AssertionError(f"withdrawal {withdrawal_id} still {state['status']}")


def test_usdc_withdrawal_pays_once_with_the_emailed_code(sim_system: LocalSystem, terminal: Terminal,
                                                        alice: Client) -> None:
    wallet = alice.get("/api/v1/auth/me").json()["user"]["wallets"]["solana"]
    before = _balances(sim_system, wallet)
    asked = alice.post("/api/v1/withdrawals", {"asset": "USDC", "amount": "25.5", "to": OUTSIDE})
    assert asked.status_code == 202, asked.text
    withdrawal = asked.json()
    assert withdrawal["status"] == "confirm_by_email"
    code = _code(terminal, "alice-w@example.com")
    wrong = "000000" if code != "000000" else "111111"
    refused = alice.post(f"/api/v1/withdrawals/{withdrawal['withdrawal_id']}/confirm", {"code": wrong})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_code"
    assert _balances(sim_system, OUTSIDE).get("usdc", Decimal(0)) == 0
    confirmed = alice.post(f"/api/v1/withdrawals/{withdrawal['withdrawal_id']}/confirm", {"code": code})
    assert confirmed.status_code == 202, confirmed.text
    done = _wait(alice, withdrawal["withdrawal_id"])
    assert done["status"] == "sent" and done["signature"], done
    assert _balances(sim_system, OUTSIDE)["usdc"] == Decimal("25.5")
    assert _balances(sim_system, wallet)["usdc"] == before["usdc"] - Decimal("25.5")
    again = alice.post(f"/api/v1/withdrawals/{withdrawal['withdrawal_id']}/confirm", {"code": code})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_confirmed"
    assert _balances(sim_system, OUTSIDE)["usdc"] == Decimal("25.5")  # the second confirm paid nothing


def test_sol_withdrawal(sim_system: LocalSystem, terminal: Terminal, alice: Client) -> None:
    target = str(Keypair().pubkey())
    asked = alice.post("/api/v1/withdrawals", {"asset": "SOL", "amount": "0.25", "to": target}).json()
    code = _code(terminal, "alice-w@example.com")
    alice.post(f"/api/v1/withdrawals/{asked['withdrawal_id']}/confirm", {"code": code})
    assert _wait(alice, asked["withdrawal_id"])["status"] == "sent"
    assert _balances(sim_system, target)["sol"] == Decimal("0.25")


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"asset": "USDC", "amount": "999999", "to": OUTSIDE}, 400, "insufficient_funds"),
    ({"asset": "SOL", "amount": "5", "to": OUTSIDE}, 400, "insufficient_funds"),
    ({"asset": "USDC", "amount": "-5", "to": OUTSIDE}, 422, "invalid_request"),
    ({"asset": "USDC", "amount": "0", "to": OUTSIDE}, 422, "invalid_request"),
    ({"asset": "USDC", "amount": "1", "to": "not-an-address"}, 422, "invalid_request"),
    ({"asset": "USDC", "amount": "1", "to": "11111111111111111111111111111111"}, 400, "bad_address"),
    ({"asset": "BTC", "amount": "1", "to": OUTSIDE}, 422, "invalid_request"),
])
def test_refusals_move_nothing(sim_system: LocalSystem, alice: Client, body: dict[str, str], status: int,
                               code: str) -> None:
    wallet = alice.get("/api/v1/auth/me").json()["user"]["wallets"]["solana"]
    before = _balances(sim_system, wallet)
    reply = alice.post("/api/v1/withdrawals", body)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["code"] == code
    assert _balances(sim_system, wallet) == before


def test_no_cross_user_withdrawals(sim_system: LocalSystem, terminal: Terminal, alice: Client) -> None:
    asked = alice.post("/api/v1/withdrawals", {"asset": "USDC", "amount": "1", "to": OUTSIDE}).json()
    code = _code(terminal, "alice-w@example.com")
    bob = log_in(sim_system, terminal, "bob-w@example.com")
    assert bob.get(f"/api/v1/withdrawals/{asked['withdrawal_id']}").status_code == 404
    assert bob.post(f"/api/v1/withdrawals/{asked['withdrawal_id']}/confirm", {"code": code}).status_code == 404
    assert bob.get("/api/v1/withdrawals").json()["withdrawals"] == []
    assert alice.get(f"/api/v1/withdrawals/{asked['withdrawal_id']}").json()["status"] == "confirm_by_email"


def test_hyperliquid_withdraw3_pays_the_users_evm_wallet_on_arbitrum(sim_system: LocalSystem, terminal: Terminal,
                                                                    alice: Client) -> None:
    assert sim_system.sim is not None
    evm = alice.get("/api/v1/auth/me").json()["user"]["wallets"]["evm"]
    base = sim_system.sim.base_url

    def arbitrum_usdc() -> Decimal:
        return Decimal(httpx.get(f"{base}/sim/arbitrum/balances/{evm}").json()["usdc"])

    def withdrawable() -> Decimal:
        return Decimal(httpx.get(f"{base}/sim/hyperliquid/accounts/{evm}").json()["withdrawable"])

    before_arbitrum, before_hl = arbitrum_usdc(), withdrawable()
    elsewhere = alice.post("/api/v1/withdrawals", {"asset": "USDC", "amount": "100", "source": "hyperliquid",
                                                   "to": "0x" + "ab" * 20})
    assert elsewhere.status_code == 400 and elsewhere.json()["error"]["code"] == "bad_address"
    too_much = alice.post("/api/v1/withdrawals", {"asset": "USDC", "amount": "999999", "source": "hyperliquid"})
    assert too_much.status_code == 400 and too_much.json()["error"]["code"] == "insufficient_funds"
    asked = alice.post("/api/v1/withdrawals", {"asset": "USDC", "amount": "100", "source": "hyperliquid"})
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert body["to"].lower() == evm.lower() and body["source"] == "hyperliquid"
    confirmed = alice.post(f"/api/v1/withdrawals/{body['withdrawal_id']}/confirm",
                           {"code": _code(terminal, "alice-w@example.com")})
    assert confirmed.status_code == 202, confirmed.text
    done = _wait(alice, body["withdrawal_id"])
    assert done["status"] == "sent", done
    assert arbitrum_usdc() == before_arbitrum + Decimal(99)  # Hyperliquid keeps its $1 fee
    assert withdrawable() == before_hl - Decimal(100)


def test_parallel_confirmations_pay_once(sim_system: LocalSystem, terminal: Terminal, alice: Client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    target = str(Keypair().pubkey())
    asked = alice.post("/api/v1/withdrawals", {"asset": "USDC", "amount": "3", "to": target}).json()
    code = _code(terminal, "alice-w@example.com")
    path = f"/api/v1/withdrawals/{asked['withdrawal_id']}/confirm"
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: alice.post(path, {"code": code}).status_code, range(6)))
    assert statuses.count(202) == 1 and all(s in (202, 401, 409) for s in statuses), statuses
    assert _wait(alice, asked["withdrawal_id"])["status"] == "sent"
    assert _balances(sim_system, target)["usdc"] == Decimal(3)
