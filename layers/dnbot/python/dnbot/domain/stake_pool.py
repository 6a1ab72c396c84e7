"""An LST's stake pool on chain: its redemption rate (SOL per LST), the fair value an LST's market price is held to.

jitoSOL's and jupSOL's pools are accounts of the SPL stake-pool program (jupSOL's of Sanctum's multi-validator
deployment of that same program, owner SPMBzsVUuoHA4Jm6KunbsotaahvVikZs1JyTW6iJvbn, which keeps its `StakePool`
layout). A pool redeems `pool_token_supply` LST for `total_lamports` lamports, so one LST is worth
total_lamports / pool_token_supply SOL (spl-stake-pool's `calc_lamports_withdraw_amount`, before its withdrawal
fee). INF (Sanctum Infinity) is no stake pool but a multi-LST pool of another program: it has no entry here, and
its peg keeps the market-based reference (domain.lst_peg).

The layout, Borsh, of spl-stake-pool's `StakePool` (solana-labs/solana-program-library,
stake-pool/program/src/state.rs; the same fields in Sanctum's `SplStakePool`, igneous-labs/S,
generated/sol-value-calculator-programs/spl_calculator_interface/src/typedefs.rs):

    offset  size  field
         0     1  account_type              enum AccountType: 0 Uninitialized, 1 StakePool, 2 ValidatorList
         1    32  manager
        33    32  staker
        65    32  stake_deposit_authority
        97     1  stake_withdraw_bump_seed
        98    32  validator_list
       130    32  reserve_stake
       162    32  pool_mint
       194    32  manager_fee_account
       226    32  token_program_id
       258     8  total_lamports            u64 little-endian
       266     8  pool_token_supply         u64 little-endian
       274     8  last_update_epoch         u64 little-endian
       282        lockup, fees, ... (variable: Borsh Options), not read here

`total_lamports` is brought up to date once an epoch (the pool's update crank), so the rate read lags the stake
earned within the current epoch (about two days of staking yield, ~0.04 %): a reading the market may beat a little.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from decimal import Decimal

from dnbot.domain.assets import Asset

# The pool accounts, from Sanctum's LST registry (igneous-labs/sanctum-lst-list, sanctum-lst-list.toml:
# "Jito Staked SOL", program "Spl", and "Jupiter Staked SOL", program "SanctumSplMulti"; jupSOL's pool account as
# Sanctum's SDK recorded it, igneous-labs/sanctum-spl-stake-pool-sdk test-fixtures/jupsol-stake-pool.json, names
# jupSOL's mint and that validator list). Each pool's `pool_mint` is checked against the asset's mint
# (domain.assets) when read, so a wrong address is refused, not trusted.
STAKE_POOLS: dict[Asset, str] = {
    Asset.JITOSOL: "Jito4APyf642JPZPx3hGc6WWJ8zPKtRbRs4P815Awbb",
    Asset.JUPSOL: "8VpRhuxa7sUUepdY3kQiTmX9rS5vx4WgaXiAnXq4KCtr",
}
SPL_STAKE_POOL_PROGRAM = "SPoo1Ku8WFXoNDMHPsrGSTSG1Y47rzgn41SLUNakuHy"  # jitoSOL's pool's owner
SANCTUM_SPL_MULTI_PROGRAM = "SPMBzsVUuoHA4Jm6KunbsotaahvVikZs1JyTW6iJvbn"  # jupSOL's pool's owner
POOL_PROGRAMS: dict[Asset, str] = {Asset.JITOSOL: SPL_STAKE_POOL_PROGRAM, Asset.JUPSOL: SANCTUM_SPL_MULTI_PROGRAM}

ACCOUNT_TYPE_STAKE_POOL = 1
POOL_MINT_OFFSET = 162
TOTAL_LAMPORTS_OFFSET = 258  # then pool_token_supply (266) and last_update_epoch (274), three u64 LE
HEADER_SIZE = 282  # the bytes up to the end of last_update_epoch: what decode_stake_pool needs
_TOTALS = struct.Struct("<QQQ")


class StakePoolDecodeError(ValueError):
    """The bytes are not an initialized stake pool's account."""


@dataclass(frozen=True, slots=True)
class StakePoolState:
    pool_mint: bytes  # the LST's mint, 32 bytes
    total_lamports: int  # the SOL the pool holds, in lamports (as of last_update_epoch)
    pool_token_supply: int  # the LST in circulation, in its smallest unit (9 decimals, as SOL)
    last_update_epoch: int

    @property
    def redemption_rate(self) -> Decimal | None:
        """SOL per LST the pool redeems at (lamports per LST unit: both have 9 decimals); None for an empty pool."""
        if self.pool_token_supply <= 0:
            return None
        return Decimal(self.total_lamports) / Decimal(self.pool_token_supply)


def decode_stake_pool(data: bytes) -> StakePoolState:
    """The fields of a `StakePool` account's data that give its redemption rate. Raises StakePoolDecodeError."""
    if len(data) < HEADER_SIZE:
        raise StakePoolDecodeError(f"a stake pool account holds at least {HEADER_SIZE} bytes, got {len(data)}")
    if data[0] != ACCOUNT_TYPE_STAKE_POOL:
        raise StakePoolDecodeError(f"account type {data[0]}, not a stake pool ({ACCOUNT_TYPE_STAKE_POOL})")
    total_lamports, supply, epoch = _TOTALS.unpack_from(data, TOTAL_LAMPORTS_OFFSET)
    return StakePoolState(bytes(data[POOL_MINT_OFFSET:POOL_MINT_OFFSET + 32]), total_lamports, supply, epoch)


def encode_stake_pool(state: StakePoolState, size: int = HEADER_SIZE) -> bytes:
    """A `StakePool` account's data with these fields and every other one zero (its keys zero, every fee zero, every
    Borsh Option None: a tag byte 0), padded with zeros to `size` (real pool accounts are allocated larger than their
    Borsh encoding). What the simulator's node serves."""
    if len(state.pool_mint) != 32:
        raise ValueError("pool_mint must be 32 bytes")
    data = bytearray(max(size, HEADER_SIZE))
    data[0] = ACCOUNT_TYPE_STAKE_POOL
    data[POOL_MINT_OFFSET:POOL_MINT_OFFSET + 32] = state.pool_mint
    _TOTALS.pack_into(data, TOTAL_LAMPORTS_OFFSET, state.total_lamports, state.pool_token_supply,
                      state.last_update_epoch)
    return bytes(data)
