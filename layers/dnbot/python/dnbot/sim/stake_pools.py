"""The LSTs' stake pools in the simulator: each LST's redemption rate (SOL per LST), and jitoSOL's and jupSOL's
pool accounts as the Solana node serves them (getAccountInfo, domain.stake_pool's layout).

The redemption rate is 1 when the simulator starts and accrues the recorded staking APY hourly. Asgard's LST price
is SOL's price x this rate x the control's factor (`POST /sim/asgard/lst-rate`, sim/asgard.py): the factor moves
the MARKET price only, so a stake pool keeps redeeming at this rate while the LST trades under it (a depeg).
INF has a rate (Asgard prices it) but no stake pool account: Sanctum Infinity is not an SPL stake pool.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from solders.pubkey import Pubkey

from dnbot.domain.assets import Asset
from dnbot.domain.stake_pool import POOL_PROGRAMS, STAKE_POOLS, StakePoolState, encode_stake_pool
from dnbot.marketdata.recorded import HOUR, hour_floor
from dnbot.sim.solana_cctp import ProgramAccount

# What the simulated pools hold: 10 million LST in circulation (9 decimals), the SOL behind them at the rate.
POOL_TOKEN_SUPPLY = 10_000_000 * 10**9
ACCOUNT_SIZE = 611  # as jupSOL's pool account is allocated on mainnet
ACCOUNT_LAMPORTS = (ACCOUNT_SIZE + 128) * 6960  # rent-exempt, as getMinimumBalanceForRentExemption answers
EPOCH_HOURS = 48  # an epoch lasts about two days
FIRST_EPOCH = 800  # the epoch the simulator starts in


class SimStakePools:
    def __init__(self, world: Any) -> None:
        self.world = world
        self._rates: dict[Asset, tuple[datetime, Decimal]] = {}
        self._lock = threading.RLock()

    def staking_apy(self, asset: Asset, at: datetime) -> Decimal:
        if not asset.is_lst:
            return Decimal(0)
        value = self.world.market.staking_apy(asset, at)
        return Decimal(value) if value is not None else Decimal(0)

    def redemption_rate(self, asset: Asset, at: datetime) -> Decimal:
        """SOL per LST: 1 at the simulator's start, accruing the recorded staking APY hourly (1 for SOL)."""
        if not asset.is_lst:
            return Decimal(1)
        with self._lock:
            start = hour_floor(self.world.clock.start)
            hour, rate = self._rates.get(asset, (start, Decimal(1)))
            target = hour_floor(at)
            if target < hour:  # an earlier instant than cached: recompute from the start
                hour, rate = start, Decimal(1)
            while hour < target:
                rate *= 1 + self.staking_apy(asset, hour) / 8760
                hour += HOUR
            self._rates[asset] = (hour, rate)
            return rate.quantize(Decimal("0.000000000001"))

    def account(self, address: str) -> ProgramAccount | None:
        """The stake pool account at `address` now (its owner program, data, lamports), None if it is not one."""
        asset = next((a for a, pool in STAKE_POOLS.items() if pool == address), None)
        if asset is None:
            return None
        now = self.world.clock.now()
        total = int((self.redemption_rate(asset, now) * POOL_TOKEN_SUPPLY).to_integral_value())
        epoch = FIRST_EPOCH + int((now - self.world.clock.start) / timedelta(hours=EPOCH_HOURS))
        state = StakePoolState(bytes(Pubkey.from_string(asset.token.mint)), total, POOL_TOKEN_SUPPLY, epoch)
        return ProgramAccount(POOL_PROGRAMS[asset], encode_stake_pool(state, ACCOUNT_SIZE), ACCOUNT_LAMPORTS)


def stake_pools_for(world: Any) -> SimStakePools:
    """The world's stake pools, created on first use (like the ledger): Asgard's prices and the node share them."""
    pools = getattr(world, "stake_pools", None)
    if pools is None:
        pools = SimStakePools(world)
        world.stake_pools = pools
    assert isinstance(pools, SimStakePools)
    return pools
