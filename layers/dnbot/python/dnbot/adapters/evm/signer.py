"""An EvmTransactionSigner with local eth-account keys (tests, `dnbot local`); production signs via Privy."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount

from dnbot.security.evm_validator import validate_evm_transaction


class LocalEvmSigner:
    def __init__(self, accounts: dict[str, LocalAccount]) -> None:
        self.accounts = accounts

    def sign_transaction(self, user_id: str, transaction: dict[str, Any]) -> str:
        account = self.accounts.get(user_id)
        if account is None:
            raise KeyError(f"no EVM wallet for user {user_id}")
        validate_evm_transaction(transaction, account.address)
        unsigned = {k: v for k, v in transaction.items() if k != "from"}
        return "0x" + bytes(account.sign_transaction(unsigned).raw_transaction).hex()
