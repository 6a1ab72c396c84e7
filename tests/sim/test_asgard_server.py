"""Asgard, Solana and Arbitrum through the simulator's one server (`start_in_thread`): the same URLs a
`dnbot local` run or a user's configuration would use."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from eth_account import Account
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair

from dnbot.adapters.asgard import AsgardClient
from dnbot.adapters.asgard.venue import AsgardLongVenue
from dnbot.adapters.evm.arbitrum import ArbitrumClient
from dnbot.adapters.evm.signer import LocalEvmSigner
from dnbot.adapters.solana.rpc import SolanaRpc
from dnbot.adapters.solana.signer import LocalKeypairSigner
from dnbot.domain.assets import Asset, Protocol
from dnbot.ports import LongOpenRequest

server = pytest.importorskip("dnbot.sim.server")  # engineer HL's server
if not hasattr(server, "start_in_thread"):
    pytest.skip("dnbot.sim.server.start_in_thread is not there yet", allow_module_level=True)


@pytest.fixture(scope="module")
def running() -> Iterator[Any]:
    sim = server.start_in_thread()
    yield sim
    sim.stop()


def test_solana_py_and_the_asgard_adapter_through_the_server(running: Any) -> None:
    base = running.base_url.rstrip("/")
    keypair = Keypair()
    wallet = str(keypair.pubkey())
    assert httpx.post(f"{base}/sim/solana/fund", json={"address": wallet, "sol": "0.5", "usdc": 300}).status_code == 200

    async def balance() -> int:
        async with AsyncClient(f"{base}/solana") as client:  # the bare prefix, as users configure it
            return (await client.get_balance(keypair.pubkey())).value

    assert asyncio.run(balance()) == 500_000_000
    venue = AsgardLongVenue(AsgardClient(f"{base}/asgard/margin-trading", api_key="k"),
                            LocalKeypairSigner({"u": keypair}), lambda _u: wallet)
    fill = venue.open_long(LongOpenRequest("u", "p", Asset.JITOSOL, int(Protocol.KAMINO), Decimal(200), Decimal(2)))
    assert fill.size > 0 and SolanaRpc(f"{base}/solana").usdc_balance(wallet) == Decimal(100)
    health = venue.health("u", "p")
    assert health is not None and health.health_factor is not None and health.health_factor > 1
    assert venue.close_long("u", "p") > Decimal(150)


def test_bridge_deposit_through_the_server(running: Any) -> None:
    base = running.base_url.rstrip("/")
    account = Account.create()
    credited: list[tuple[str, Decimal]] = []
    running.world.bridge_deposit_listeners.append(lambda address, usdc: credited.append((address, usdc)))
    assert httpx.post(f"{base}/sim/arbitrum/fund", json={"address": account.address, "usdc": "12",
                                                                     "eth": "0.01"}).status_code == 200
    client = ArbitrumClient(f"{base}/arbitrum")
    client.bridge_deposit("u", account.address, Decimal(10), LocalEvmSigner({"u": account}))
    assert client.usdc_balance(account.address) == Decimal(2)
    assert (account.address.lower(), Decimal(10)) in credited
