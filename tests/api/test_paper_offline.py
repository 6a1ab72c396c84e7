"""The paper venues (the API's fuzzing system) never reach a real venue: every venue URL points nowhere, and a
Hyperliquid withdrawal is answered from the paper account (it used to read api.hyperliquid.xyz: a DNS failure or
a timeout there made the fuzzer see a 503 now and then)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi import FastAPI

from dnbot.local.system import PAPER_NOWHERE, LocalSystem
from tests.api.test_sessions import _login
from tests.integration.helpers import Terminal

pytestmark = pytest.mark.xdist_group("moto")

PAYEE = "0x" + "ab" * 20  # an Arbitrum address of the user's own, outside dnbot


def test_paper_settings_point_every_venue_nowhere(system: LocalSystem) -> None:
    assert system.runtime is not None
    settings = system.runtime.settings
    assert {settings.hyperliquid_base_url, settings.asgard_base_url, settings.solana_rpc_url,
            settings.arbitrum_rpc_url, settings.privy_base_url} == {PAPER_NOWHERE}


def test_a_hyperliquid_withdrawal_is_answered_from_the_paper_account(app: FastAPI, terminal: Terminal,
                                                                     system: LocalSystem) -> None:
    client, csrf, reply = _login(app, terminal, "paper-withdraw@example.com")
    evm = reply.json()["user"]["wallets"]["evm"]
    assert system.runtime is not None
    free = system.runtime.hyperliquid_accounts.withdrawable_usd(evm)
    assert free == Decimal(5000)  # half of the paper capital, no position
    asked = client.post("/api/v1/withdrawals", headers=csrf,
                        json={"asset": "USDC", "amount": "100", "source": "hyperliquid",
                              "to": PAYEE})
    assert asked.status_code == 202, asked.text
    too_much = client.post("/api/v1/withdrawals", headers=csrf,
                           json={"asset": "USDC", "amount": "5000.01", "source": "hyperliquid",
                                 "to": PAYEE})
    assert too_much.status_code == 400 and too_much.json()["error"]["code"] == "insufficient_funds", too_much.text
