"""adapters/solana/stake_pool.py (the StakePoolReader port) through the production SolanaRpc: against a node that
answers getAccountInfo in a real node's JSON-RPC shape with jupSOL's real pool account, and against the
simulator's `/solana` node, whose pools redeem at the rate Asgard's LST prices follow."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from dnbot.adapters.solana.rpc import SolanaRpc
from dnbot.adapters.solana.stake_pool import SolanaStakePools
from dnbot.domain.assets import Asset
from dnbot.domain.stake_pool import POOL_PROGRAMS, STAKE_POOLS
from dnbot.ports import StakePoolReader, TransientVenueError, VenueRejected
from dnbot.sim.server import RunningSim
from dnbot.sim.stake_pools import stake_pools_for
from dnbot.sim.world import Fault, FaultKind

RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "recorded" / "solana" / "stake_pools"
JUPSOL_ACCOUNT = json.loads((RECORDED / "jupsol-stake-pool.json").read_text())["account"]


def node(accounts: dict[str, dict[str, Any]], seen: list[dict[str, Any]] | None = None) -> httpx.MockTransport:
    """A node answering getAccountInfo as mainnet does: {"context", "value": account | null}."""

    def handle(request: httpx.Request) -> httpx.Response:
        call = json.loads(request.content)
        if seen is not None:
            seen.append(call)
        assert call["method"] == "getAccountInfo"
        value = accounts.get(call["params"][0])
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": call["id"], "result": {
            "context": {"apiVersion": "2.2.16", "slot": 324_000_000}, "value": value}})

    return httpx.MockTransport(handle)


def reader(transport: httpx.BaseTransport) -> SolanaStakePools:
    return SolanaStakePools(SolanaRpc("https://node.invalid", transport=transport))


def test_reads_jupsols_redemption_rate_from_its_real_pool_account() -> None:
    seen: list[dict[str, Any]] = []
    pools: StakePoolReader = reader(node({STAKE_POOLS[Asset.JUPSOL]: JUPSOL_ACCOUNT}, seen))
    assert pools.redemption_rate(Asset.JUPSOL) == Decimal(4135211783809274) / Decimal(3792758591416065)
    assert seen[0]["params"][0] == STAKE_POOLS[Asset.JUPSOL] and seen[0]["params"][1]["encoding"] == "base64"


def test_inf_and_sol_have_no_pool_to_read() -> None:
    seen: list[dict[str, Any]] = []
    pools = reader(node({}, seen))
    assert pools.redemption_rate(Asset.INF) is None and pools.redemption_rate(Asset.SOL) is None
    assert seen == []  # nothing asked of the chain


def test_refuses_another_mints_pool_a_missing_account_and_garbage() -> None:
    # jupSOL's pool account served at jitoSOL's pool address: its pool_mint is not jitoSOL's
    with pytest.raises(VenueRejected, match="not jitoSOL's"):
        reader(node({STAKE_POOLS[Asset.JITOSOL]: JUPSOL_ACCOUNT})).redemption_rate(Asset.JITOSOL)
    with pytest.raises(VenueRejected, match="does not exist on chain"):
        reader(node({})).redemption_rate(Asset.JITOSOL)
    garbage = JUPSOL_ACCOUNT | {"data": [base64.b64encode(bytes(40)).decode(), "base64"]}
    with pytest.raises(VenueRejected, match="unreadable"):
        reader(node({STAKE_POOLS[Asset.JUPSOL]: garbage})).redemption_rate(Asset.JUPSOL)


def test_a_node_down_is_transient() -> None:
    with pytest.raises(TransientVenueError):
        reader(httpx.MockTransport(lambda r: httpx.Response(503))).redemption_rate(Asset.JITOSOL)


def _sim_reader(base_url: str) -> SolanaStakePools:
    return SolanaStakePools(SolanaRpc(f"{base_url}/solana"))


def test_the_simulators_pools_redeem_at_the_rate_asgard_prices_follow(sim: RunningSim) -> None:
    base_url, world = sim.base_url, sim.world
    httpx.post(f"{base_url}/sim/clock", json={"advance_hours": 72}).raise_for_status()  # the staking APY accrues
    pools = _sim_reader(base_url)
    for asset in (Asset.JITOSOL, Asset.JUPSOL):
        expected = stake_pools_for(world).redemption_rate(asset, world.clock.now())
        assert expected > 1  # grown since the start
        read = pools.redemption_rate(asset)
        assert read is not None and abs(read - expected) < Decimal("1e-15")
        account = httpx.post(f"{base_url}/solana", json={"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo",
                                                         "params": [STAKE_POOLS[asset], {"encoding": "base64"}]})
        assert account.json()["result"]["value"]["owner"] == POOL_PROGRAMS[asset]
        assert account.json()["result"]["value"]["space"] == 611
    assert pools.redemption_rate(Asset.INF) is None


def test_a_depeg_moves_asgards_price_not_the_pools_rate(sim: RunningSim) -> None:
    base_url = sim.base_url
    pools = _sim_reader(base_url)
    before = pools.redemption_rate(Asset.JITOSOL)
    moved = httpx.post(f"{base_url}/sim/asgard/lst-rate", json={"asset": "jitoSOL", "factor": "0.95"})
    try:
        assert moved.status_code == 200, moved.text
        assert pools.redemption_rate(Asset.JITOSOL) == before
    finally:
        httpx.post(f"{base_url}/sim/asgard/lst-rate", json={"asset": "jitoSOL", "factor": "1"})


def test_a_node_fault_reaches_the_reader(sim: RunningSim) -> None:
    base_url, world = sim.base_url, sim.world
    world.faults.inject(Fault("solana", "getAccountInfo", FaultKind.SERVER_ERROR))
    try:
        with pytest.raises(TransientVenueError):
            _sim_reader(base_url).redemption_rate(Asset.JITOSOL)
    finally:
        world.faults.clear()
