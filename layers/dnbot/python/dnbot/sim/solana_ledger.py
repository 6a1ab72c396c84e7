"""The simulator's Solana state: lamports, SPL token balances, blockhashes and transaction signatures.

One ledger per SimWorld, shared by the `/solana` JSON-RPC venue and the Asgard venue (an Asgard submit debits
the same balances a `getBalance` reads). Balances are raw integer units (lamports, token base units), as on
chain. Token balances live in the owner's associated token account (ATA) for that mint: the simulator does
not model non-associated token accounts.

Slots advance with the simulator's clock (one slot per 400 ms of simulated time). A blockhash is valid for
150 slots after the slot it was issued at, as on mainnet; a transaction signed over an older or unknown
blockhash is refused ("Blockhash not found").
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from solders.hash import Hash
from solders.message import Message, MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.token.associated import get_associated_token_address
from solders.transaction import Transaction, VersionedTransaction

from dnbot.domain.assets import USDC, Asset

LAMPORTS_PER_SOL = 1_000_000_000
FEE_LAMPORTS_PER_SIGNATURE = 5_000  # Solana's base fee
BLOCKHASH_VALID_SLOTS = 150
SLOT_SECONDS = Decimal("0.4")
TOKEN_PROGRAM_ID = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
SYSTEM_PROGRAM_ID = Pubkey.from_string("11111111111111111111111111111111")
TOKEN_ACCOUNT_RENT_LAMPORTS = 2_039_280  # rent-exempt minimum of a 165-byte token account
_GENESIS_SLOT = 300_000_000  # a mainnet-like slot number so that values look familiar

# Mints the simulator knows the decimals of (any other mint funded through /sim/solana/fund gets 9).
KNOWN_DECIMALS: dict[str, int] = {USDC.mint: USDC.decimals, **{a.token.mint: a.token.decimals for a in Asset}}
SYMBOL_MINTS: dict[str, str] = {
    "usdc": USDC.mint,
    **{a.value.lower(): a.token.mint for a in Asset if a.is_lst},
}


class LedgerError(Exception):
    """A transaction the chain would refuse; `code` follows the JSON-RPC error codes of a Solana node."""

    def __init__(self, message: str, code: int = -32002, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.data = data


@dataclass(frozen=True, slots=True)
class SignatureRecord:
    slot: int
    err: Any = None  # None for success, else the TransactionError JSON


@dataclass
class SolanaLedger:
    clock_now: Any  # Callable[[], datetime]; the world's clock
    start: datetime
    lamports: dict[str, int] = field(default_factory=dict)
    tokens: dict[tuple[str, str], int] = field(default_factory=dict)  # (owner, mint) -> raw amount
    token_accounts: dict[str, tuple[str, str]] = field(default_factory=dict)  # ATA -> (owner, mint)
    signatures: dict[str, SignatureRecord] = field(default_factory=dict)
    blockhashes: dict[str, int] = field(default_factory=dict)  # blockhash -> slot issued
    lock: threading.RLock = field(default_factory=threading.RLock)

    # --- time ------------------------------------------------------------------------------------------

    def slot(self) -> int:
        elapsed = Decimal(str((self.clock_now() - self.start).total_seconds()))
        return _GENESIS_SLOT + int(elapsed / SLOT_SECONDS)

    def block_height(self) -> int:
        return self.slot() - 20_000_000  # skipped slots make the block height trail the slot, as on mainnet

    def latest_blockhash(self) -> tuple[Hash, int]:
        """A blockhash for the current slot and the last block height at which it is still valid."""
        with self.lock:
            slot = self.slot()
            blockhash = Hash(hashlib.sha256(f"dnbot-sim-slot-{slot}".encode()).digest())
            self.blockhashes.setdefault(str(blockhash), slot)
            return blockhash, self.block_height() + BLOCKHASH_VALID_SLOTS

    def blockhash_valid(self, blockhash: Hash | str) -> bool:
        issued = self.blockhashes.get(str(blockhash))
        return issued is not None and self.slot() - issued <= BLOCKHASH_VALID_SLOTS

    # --- balances --------------------------------------------------------------------------------------

    @staticmethod
    def ata(owner: str, mint: str) -> str:
        return str(get_associated_token_address(Pubkey.from_string(owner), Pubkey.from_string(mint)))

    @staticmethod
    def decimals(mint: str) -> int:
        return KNOWN_DECIMALS.get(mint, 9)

    def balance_lamports(self, address: str) -> int:
        with self.lock:
            return self.lamports.get(address, 0)

    def token_raw(self, owner: str, mint: str) -> int:
        with self.lock:
            return self.tokens.get((owner, mint), 0)

    def token_ui(self, owner: str, mint: str) -> Decimal:
        return Decimal(self.token_raw(owner, mint)).scaleb(-self.decimals(mint))

    def owner_token_accounts(self, owner: str, mint: str | None = None) -> list[tuple[str, str, int]]:
        """(token account, mint, raw amount) of every token account this owner has (for this mint)."""
        with self.lock:
            return [
                (account, m, self.tokens.get((o, m), 0))
                for account, (o, m) in sorted(self.token_accounts.items())
                if o == owner and (mint is None or m == mint)
            ]

    def token_account(self, account: str) -> tuple[str, str, int] | None:
        """(owner, mint, raw amount) of a token account, or None if it does not exist."""
        with self.lock:
            found = self.token_accounts.get(account)
            if found is None:
                return None
            owner, mint = found
            return owner, mint, self.tokens.get(found, 0)

    def credit_lamports(self, address: str, amount: int) -> None:
        _check_address(address)
        with self.lock:
            self.lamports[address] = self.lamports.get(address, 0) + amount

    def debit_lamports(self, address: str, amount: int) -> None:
        with self.lock:
            have = self.lamports.get(address, 0)
            if have < amount:
                raise LedgerError(
                    f"Transfer: insufficient lamports {have}, need {amount}",
                    data={"err": {"InstructionError": [0, {"Custom": 1}]}},
                )
            self.lamports[address] = have - amount

    def credit_token(self, owner: str, mint: str, raw: int) -> str:
        _check_address(owner)
        _check_address(mint)
        with self.lock:
            account = self.ata(owner, mint)
            self.token_accounts[account] = (owner, mint)
            self.tokens[(owner, mint)] = self.tokens.get((owner, mint), 0) + raw
            return account

    def debit_token(self, owner: str, mint: str, raw: int) -> None:
        with self.lock:
            have = self.tokens.get((owner, mint), 0)
            if have < raw:
                raise LedgerError(
                    "Error processing Instruction 0: custom program error: 0x1 (insufficient funds)",
                    data={"err": {"InstructionError": [0, {"Custom": 1}]}},
                )
            self.tokens[(owner, mint)] = have - raw

    def fund(
        self,
        address: str,
        *,
        sol: Decimal | None = None,
        usdc: Decimal | None = None,
        mint: str | None = None,
        amount: Decimal | None = None,
    ) -> dict[str, str]:
        """The `/sim/solana/fund` operation: adds SOL, USDC and/or any token (by mint or LST symbol)."""
        _check_address(address)
        with self.lock:
            if sol:
                self.credit_lamports(address, int(sol * LAMPORTS_PER_SOL))
            if usdc:
                self.credit_token(address, USDC.mint, int(usdc.scaleb(USDC.decimals)))
            if mint and amount:
                resolved = SYMBOL_MINTS.get(mint.lower(), mint)
                self.credit_token(address, resolved, int(amount.scaleb(self.decimals(resolved))))
            return self.describe(address)

    def describe(self, address: str) -> dict[str, str]:
        with self.lock:
            result = {
                "address": address,
                "sol": plain(Decimal(self.balance_lamports(address)) / LAMPORTS_PER_SOL),
            }
            for _, mint, raw in self.owner_token_accounts(address):
                symbol = next((s for s, m in SYMBOL_MINTS.items() if m == mint), mint)
                result[symbol] = plain(Decimal(raw).scaleb(-self.decimals(mint)))
            return result

    # --- transactions ----------------------------------------------------------------------------------

    def record_signature(self, signature: str, err: Any = None) -> None:
        with self.lock:
            self.signatures[signature] = SignatureRecord(self.slot(), err)

    def signature_status(self, signature: str) -> dict[str, Any] | None:
        """The `getSignatureStatuses` entry of one signature (None if the chain never saw it)."""
        with self.lock:
            record = self.signatures.get(signature)
            if record is None:
                return None
            confirmations = self.slot() - record.slot
            finalized = confirmations >= 32
            return {
                "slot": record.slot,
                "confirmations": None if finalized else confirmations,
                "err": record.err,
                "status": {"Ok": None} if record.err is None else {"Err": record.err},
                "confirmationStatus": "finalized" if finalized else "confirmed",
            }

    def verify_signed(self, tx: VersionedTransaction | Transaction) -> str:
        """Check every required signature and the blockhash; returns the transaction id (first signature)."""
        message = tx.message
        raw_message = (
            bytes(message)
            if isinstance(message, Message)
            else to_bytes_versioned(message)
            if isinstance(message, MessageV0)
            else b""
        )
        signers = list(message.account_keys[: message.header.num_required_signatures])
        signatures = list(tx.signatures)
        if len(signatures) != len(signers):
            raise LedgerError(
                "invalid transaction: signature count does not match the message header", code=-32602
            )
        for signer, signature in zip(signers, signatures, strict=True):
            if signature == Signature.default() or not signature.verify(signer, raw_message):
                raise LedgerError(
                    f"Transaction signature verification failure (signer {signer})", code=-32003
                )
        if not self.blockhash_valid(message.recent_blockhash):
            raise LedgerError(
                "Blockhash not found",
                code=-32002,
                data={"err": "BlockhashNotFound", "logs": [], "accounts": None},
            )
        if str(signatures[0]) in self.signatures:
            raise LedgerError(
                "This transaction has already been processed", code=-32002, data={"err": "AlreadyProcessed"}
            )
        return str(signatures[0])


def plain(value: Decimal) -> str:
    """A decimal as plain text without trailing zeros or exponent: 250.25, 1000, 0."""
    return format(value.normalize(), "f") if value else "0"


def _check_address(address: str) -> None:
    try:
        Pubkey.from_string(address)
    except ValueError as exc:
        raise LedgerError(f"Invalid param: {address!r} is not a base58 public key", code=-32602) from exc


def decode_transaction(raw: bytes) -> VersionedTransaction | Transaction:
    """A wire transaction, versioned (v0) or legacy."""
    try:
        return VersionedTransaction.from_bytes(raw)
    except ValueError:
        try:
            return Transaction.from_bytes(raw)
        except ValueError as exc:
            raise LedgerError(f"failed to deserialize transaction: {exc}", code=-32602) from exc


def ledger_for(world: Any) -> SolanaLedger:
    """The world's Solana ledger, created on first use (SimWorld has no field for it: see the report)."""
    ledger = getattr(world, "solana_ledger", None)
    if ledger is None:
        ledger = SolanaLedger(clock_now=world.clock.now, start=world.clock.start)
        world.solana_ledger = ledger
    assert isinstance(ledger, SolanaLedger)
    return ledger
