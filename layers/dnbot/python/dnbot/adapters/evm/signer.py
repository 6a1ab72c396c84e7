"""An EvmTransactionSigner with local eth-account keys (tests, `dnbot local`); production signs via Privy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_account.signers.local import LocalAccount

from dnbot.security.evm_validator import validate_evm_transaction


class LocalEvmSigner:
    def __init__(self, accounts: dict[str, LocalAccount], solana_wallets: Mapping[str, str] | None = None) -> None:
        """`solana_wallets`: user id -> Solana address, the only recipient a CCTP burn to Solana may mint to."""
        self.accounts = accounts
        self.solana_wallets = solana_wallets or {}

    def sign_transaction(self, user_id: str, transaction: dict[str, Any]) -> str:
        account = self.accounts.get(user_id)
        if account is None:
            raise KeyError(f"no EVM wallet for user {user_id}")
        validate_evm_transaction(transaction, account.address, self.solana_wallets.get(user_id))
        unsigned = {k: v for k, v in transaction.items() if k != "from"}
        return "0x" + bytes(account.sign_transaction(unsigned).raw_transaction).hex()
