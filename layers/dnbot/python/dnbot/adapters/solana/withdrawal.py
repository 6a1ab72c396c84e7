"""Pays a withdrawal from the user's Privy Solana wallet: builds exactly one transfer, validates it
(dnbot.security.withdrawal_validator, then the generic signing policy with only that recipient allowed), has
Privy sign it with the KMS authorization key, and sends it through the Solana RPC."""

from __future__ import annotations

import base64
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from solders.hash import Hash
from solders.instruction import Instruction
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.token.associated import get_associated_token_address
from solders.transaction import VersionedTransaction
from spl.token.instructions import create_idempotent_associated_token_account, transfer_checked
from spl.token.models import TransferCheckedParams

from dnbot.adapters.privy.wallets import PrivyWallets
from dnbot.adapters.solana.rpc import SolanaRpc
from dnbot.domain.assets import USDC
from dnbot.security.transaction_validator import (
    DEFAULT_ALLOWED_PROGRAMS,
    TOKEN_PROGRAM,
    SigningPolicy,
    TransactionRefusedError,
)
from dnbot.security.withdrawal_validator import USDC_MINT, base_units, validate_withdrawal
from dnbot.services.errors import ServiceError


def transfer_instructions(owner: Pubkey, asset: str, amount: Decimal, to: Pubkey) -> list[Instruction]:
    units = base_units(asset, amount)
    if asset == "SOL":
        return [transfer(TransferParams(from_pubkey=owner, to_pubkey=to, lamports=units))]
    source = get_associated_token_address(owner, USDC_MINT)
    dest = get_associated_token_address(to, USDC_MINT)
    return [create_idempotent_associated_token_account(owner, to, USDC_MINT),
            transfer_checked(TransferCheckedParams(program_id=TOKEN_PROGRAM, source=source, mint=USDC_MINT,
                                                   dest=dest, owner=owner, amount=units, decimals=USDC.decimals))]


def valid_solana_address(address: str) -> bool:
    try:
        key = Pubkey.from_string(address)
    except ValueError:
        return False
    # a wallet: on the curve (not a program-derived account), not a program, not the all-zero key
    return (key.is_on_curve() and str(key) == address and key not in DEFAULT_ALLOWED_PROGRAMS
            and key != Pubkey.default())


class SolanaWithdrawals:
    """Implements TransferExecutor (and AddressCheck for the API side, which never signs)."""

    def __init__(self, rpc: SolanaRpc, wallets: Callable[[], PrivyWallets]) -> None:
        self._rpc = rpc
        self._wallets = wallets

    def valid_address(self, address: str) -> bool:
        return valid_solana_address(address)

    def sign_transfer(self, user_id: str, asset: Any, amount: Decimal, to: str) -> str:
        wallets = self._wallets()  # built here only: the API never signs, so never loads them for a withdrawal
        record = wallets.wallet_record(user_id)
        owner, recipient = Pubkey.from_string(record.solana_address), Pubkey.from_string(to)
        blockhash, _ = self._rpc.latest_blockhash()
        message = MessageV0.try_compile(owner, transfer_instructions(owner, asset, amount, recipient), [],
                                        Hash.from_string(blockhash))
        unsigned = VersionedTransaction.populate(message, [Signature.default()])
        tx_base64 = base64.b64encode(bytes(unsigned)).decode("ascii")
        try:
            validate_withdrawal(tx_base64, record.solana_address, asset, amount, to)
        except TransactionRefusedError as refused:
            raise ServiceError(str(refused), code="withdrawal_refused") from refused
        policy = SigningPolicy.for_wallet(record.solana_address, extra_recipients=[recipient],
                                          extra_token_accounts=[get_associated_token_address(recipient, USDC_MINT)])
        try:
            return wallets.sign_transaction(user_id, tx_base64, policy)
        except TransactionRefusedError as refused:
            raise ServiceError(str(refused), code="withdrawal_refused") from refused

    def send(self, signed_transaction: str) -> str:
        return self._rpc.send_transaction(signed_transaction, "the withdrawal")
