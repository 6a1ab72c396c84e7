"""What a user holds across venues, read from the venues themselves (Solana, Arbitrum, Hyperliquid)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol, TypeVar

from dnbot.ports import Balances, UserRecord

logger = logging.getLogger(__name__)
T = TypeVar("T")


class SolanaBalances(Protocol):
    def sol_balance(self, owner: str) -> Decimal: ...

    def usdc_balance(self, owner: str) -> Decimal: ...


class EvmBalances(Protocol):
    def usdc_balance(self, address: str) -> Decimal: ...


def _read(what: str, read: Callable[[], T]) -> T | None:
    """A venue that cannot be read shows as unknown (None), never as zero: zero would look like an empty wallet."""
    try:
        return read()
    except Exception as error:  # every venue failure mode ends the same way: unknown for this read
        logger.warning("could not read %s: %s", what, error)
        return None


class VenueBalances:
    """Implements BalanceReader and CapitalSource.

    Free capital is what a new position can use with equal halves: collateral on Solana (USDC) and margin on
    Hyperliquid (withdrawable USDC), so 2 x the smaller half. USDC still on Arbitrum is not counted until it has
    been bridged to Hyperliquid.
    """

    def __init__(self, solana: SolanaBalances, evm: EvmBalances,
                 hyperliquid_account_value: Callable[[str], Decimal],
                 hyperliquid_withdrawable: Callable[[str], Decimal]) -> None:
        self._solana = solana
        self._evm = evm
        self._hl_value = hyperliquid_account_value
        self._hl_free = hyperliquid_withdrawable

    def balances(self, user: UserRecord) -> Balances:
        solana, evm = user.solana_address, user.evm_address
        return Balances(
            solana_sol=_read("SOL", lambda: self._solana.sol_balance(solana)) if solana else None,
            solana_usdc=_read("Solana USDC", lambda: self._solana.usdc_balance(solana)) if solana else None,
            evm_usdc=_read("Arbitrum USDC", lambda: self._evm.usdc_balance(evm)) if evm else None,
            hyperliquid_account_value_usd=_read("Hyperliquid", lambda: self._hl_value(evm)) if evm else None,
        )

    def free_capital_usd(self, user: UserRecord) -> Decimal:
        if not user.solana_address or not user.evm_address:
            return Decimal(0)
        solana, evm = user.solana_address, user.evm_address
        collateral = _read("Solana USDC", lambda: self._solana.usdc_balance(solana))
        margin = _read("Hyperliquid", lambda: self._hl_free(evm))
        if collateral is None or margin is None:
            return Decimal(0)  # unknown capital opens nothing
        return 2 * min(collateral, margin)
