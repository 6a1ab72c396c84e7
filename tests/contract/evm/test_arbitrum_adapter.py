"""The EVM adapter against `/arbitrum` of the simulator: USDC balance by eth_call, the Hyperliquid bridge
deposit (credited through the world's bridge hook), the 5 USDC minimum, and the signer's validator."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from eth_account import Account

from dnbot.adapters.evm.arbitrum import ArbitrumClient, BridgeDepositTooSmall
from dnbot.adapters.evm.signer import LocalEvmSigner
from dnbot.ports import TransientVenueError, VenueRejected
from dnbot.security.evm_validator import ARBITRUM_USDC
from dnbot.security.transaction_validator import TransactionRefusedError
from dnbot.sim.server import start_in_thread
from dnbot.sim.world import Fault, FaultKind, SimWorld


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[str, SimWorld, list[tuple[str, Decimal]]]]:
    world = SimWorld.create()
    credited: list[tuple[str, Decimal]] = []
    world.bridge_deposit_listeners.append(lambda address, usdc: credited.append((address, usdc)))
    running = start_in_thread(world=world)
    yield running.base_url, world, credited
    running.stop()


def test_reads_usdc_and_deposits_to_the_bridge(sim: tuple[str, SimWorld, list[tuple[str, Decimal]]]) -> None:
    base_url, _, credited = sim
    account = Account.create()
    assert httpx.post(f"{base_url}/sim/arbitrum/fund",
                      json={"address": account.address, "usdc": "25.5", "eth": "0.01"}).json()["usdc"] == "25.5"
    client = ArbitrumClient(f"{base_url}/arbitrum")
    assert client.chain_id() == 42161
    assert client.usdc_balance(account.address) == Decimal("25.5")

    signer = LocalEvmSigner({"u1": account})
    tx_hash = client.bridge_deposit("u1", account.address, Decimal("20.25"), signer)
    assert tx_hash.startswith("0x") and len(tx_hash) == 66
    assert client.usdc_balance(account.address) == Decimal("5.25")
    assert credited[-1] == (account.address.lower(), Decimal("20.25"))

    with pytest.raises(BridgeDepositTooSmall, match=r"4\.99"):
        client.bridge_deposit("u1", account.address, Decimal("4.99"), signer)
    assert client.usdc_balance(account.address) == Decimal("5.25")  # nothing was sent
    with pytest.raises(VenueRejected, match="less than"):
        client.bridge_deposit("u1", account.address, Decimal(6), signer)


def test_a_small_deposit_sent_anyway_is_lost(sim: tuple[str, SimWorld, list[tuple[str, Decimal]]]) -> None:
    base_url, _, credited = sim
    account = Account.create()
    httpx.post(f"{base_url}/sim/arbitrum/fund", json={"address": account.address, "usdc": 10, "eth": "0.01"})
    client = ArbitrumClient(f"{base_url}/arbitrum")
    data = "0xa9059cbb" + "00" * 12 + "2df1c51e09aecf9cacb7bc98cb1742757f163df7" + f"{4_990_000:064x}"
    raw = account.sign_transaction({"chainId": 42161, "nonce": 0, "to": "0xaf88d065e77c8cC2239327C5EDb3A432268e5831",
                                    "value": 0, "data": data, "gas": 80_000, "maxFeePerGas": 20_000_000,
                                    "maxPriorityFeePerGas": 0, "type": 2}).raw_transaction
    before = len(credited)
    answer = httpx.post(f"{base_url}/arbitrum", json={"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                                                       "params": ["0x" + bytes(raw).hex()]}).json()
    assert answer["result"].startswith("0x")
    assert client.usdc_balance(account.address) == Decimal("5.01")  # debited ...
    assert len(credited) == before  # ... and never credited on Hyperliquid
    replay = httpx.post(f"{base_url}/arbitrum", json={"jsonrpc": "2.0", "id": 2, "method": "eth_sendRawTransaction",
                                                       "params": ["0x" + bytes(raw).hex()]}).json()
    assert "already known" in replay["error"]["message"]


def test_signer_refuses_anything_but_a_bridge_deposit() -> None:
    account = Account.create()
    signer = LocalEvmSigner({"u1": account})
    to_stranger = "0xa9059cbb" + "00" * 12 + "11" * 20 + f"{50_000_000:064x}"
    base = {"chainId": 42161, "nonce": 0, "value": 0, "gas": 80_000, "maxFeePerGas": 1, "maxPriorityFeePerGas": 0}
    with pytest.raises(TransactionRefusedError, match="not to Hyperliquid's bridge"):
        signer.sign_transaction("u1", {**base, "to": ARBITRUM_USDC, "data": to_stranger})
    with pytest.raises(TransactionRefusedError, match="other than Arbitrum's USDC"):
        signer.sign_transaction("u1", {**base, "to": "0x" + "22" * 20, "data": "0x"})
    with pytest.raises(TransactionRefusedError, match="not Arbitrum One"):
        signer.sign_transaction("u1", {**base, "chainId": 1, "to": ARBITRUM_USDC, "data": to_stranger})


def test_faults_map_to_transient(sim: tuple[str, SimWorld, list[tuple[str, Decimal]]]) -> None:
    base_url, world, _ = sim
    world.faults.inject(Fault("arbitrum", "eth_call", FaultKind.SERVER_ERROR))
    with pytest.raises(TransientVenueError):
        ArbitrumClient(f"{base_url}/arbitrum").usdc_balance("0x" + "33" * 20)
