"""An LST's stake pool read from a Solana node (getAccountInfo): its redemption rate, the StakePoolReader port.

The decoding is domain.stake_pool's; this reads the account, refuses one that is not the asset's pool (its
pool_mint must be the asset's mint), and turns a node's silence into the port's errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

from solders.pubkey import Pubkey

from dnbot.domain.assets import Asset
from dnbot.domain.stake_pool import STAKE_POOLS, StakePoolDecodeError, decode_stake_pool
from dnbot.ports import VenueRejected


class AccountData(Protocol):
    def account_data(self, address: str) -> bytes | None: ...


class SolanaStakePools:
    """StakePoolReader over a Solana RPC client (adapters.solana.rpc.SolanaRpc)."""

    def __init__(self, rpc: AccountData, pools: Mapping[Asset, str] = STAKE_POOLS) -> None:
        self._rpc = rpc
        self._pools = dict(pools)

    def redemption_rate(self, asset: Asset) -> Decimal | None:
        address = self._pools.get(asset)
        if address is None:  # SOL, or INF: no SPL stake pool to read
            return None
        data = self._rpc.account_data(address)  # TransientVenueError / VenueRejected from the node pass through
        if data is None:
            raise VenueRejected(f"{asset.value}'s stake pool {address} does not exist on chain")
        try:
            state = decode_stake_pool(data)
        except StakePoolDecodeError as error:
            raise VenueRejected(f"{asset.value}'s stake pool {address} is unreadable: {error}") from error
        if state.pool_mint != bytes(Pubkey.from_string(asset.token.mint)):
            raise VenueRejected(f"the account {address} is the pool of mint {Pubkey.from_bytes(state.pool_mint)}, "
                                f"not {asset.value}'s ({asset.token.mint})")
        rate = state.redemption_rate
        if rate is None:
            raise VenueRejected(f"{asset.value}'s stake pool {address} holds no pool tokens")
        return rate
