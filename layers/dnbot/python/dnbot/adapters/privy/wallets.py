"""The user's Privy wallets through the official SDK (privy-client): create them, sign with them.

Each user gets one Solana and one Ethereum wallet OWNED by the app's P-256 authorization key (in AWS a
KMS key; see dnbot.adapters.aws.kms.KmsAuthorizationSigner), so only this server can make them sign, and only
with a valid authorization signature on each request. Every write carries a `privy-idempotency-key` derived
from what it does, so a retry after a lost response (the SDK itself retries 5xx and timeouts) can never
create a second wallet or act twice.

Before a Solana transaction goes to Privy it passes dnbot.security.transaction_validator (fee payer, program
allow-list, where funds may go); what comes back is checked to be the same message, signed by the user's key.
An EIP-712 signature is checked to recover to the user's EVM address.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from hexbytes import HexBytes
from privy import (
    APIConnectionError,
    APIStatusError,
    PrivyAPIError,
)
from privy.lib.authorization import AuthorizationContext
from privy.lib.client import PrivyClient
from privy.lib.request_options import PrivyRequestOptions
from solders.pubkey import Pubkey
from solders.transaction import Transaction, VersionedTransaction

from dnbot.adapters.privy.authorization import privy_signer_function
from dnbot.ports import (
    AuthorizationSigner,
    PrivyWalletRecord,
    TransientVenueError,
    UserWallets,
    VenueRejected,
    WalletDirectory,
)
from dnbot.security.evm_validator import validate_evm_transaction
from dnbot.security.transaction_validator import SigningPolicy, parse_transaction, validate_transaction

# (user id, wallet address) -> what a transaction signed for that wallet may do.
PolicyFor = Callable[[str, str], SigningPolicy]


def default_policy(_user_id: str, wallet_address: str) -> SigningPolicy:
    return SigningPolicy.for_wallet(wallet_address)


def wallet_external_id(user_id: str, chain_type: str) -> str:
    """Privy's external_id for the user's wallet: URL-safe, at most 64 characters, no user id in clear."""
    return f"dnbot-{hashlib.sha256(user_id.encode()).hexdigest()[:40]}-{chain_type[:3]}"


def idempotency_key(*parts: str) -> str:
    """A stable key for one logical write: the same request retried maps to the same key."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"dnbot-{digest[:48]}"


class InMemoryWalletDirectory:
    """WalletDirectory in a dict (tests, single-process runs)."""

    def __init__(self) -> None:
        self._records: dict[str, PrivyWalletRecord] = {}
        self._lock = threading.Lock()

    def get_wallets(self, user_id: str) -> PrivyWalletRecord | None:
        with self._lock:
            return self._records.get(user_id)

    def put_wallets(self, user_id: str, record: PrivyWalletRecord) -> None:
        with self._lock:
            self._records[user_id] = record


def _message_bytes(tx: VersionedTransaction | Transaction) -> bytes:
    if isinstance(tx, VersionedTransaction):
        from solders.message import to_bytes_versioned

        return bytes(to_bytes_versioned(tx.message))
    return bytes(tx.message_data())


class PrivyWallets:
    """Implements WalletProvisioner, SolanaTransactionSigner and EvmTypedDataSigner over privy-client.

    client: a `privy.PrivyClient(app_id=..., app_secret=..., base_url=...)` (base_url: the sim's `/privy`).
    signer: the authorization key (KMS in AWS, a local key in `dnbot local` and tests).
    owner_public_key: that key's public half, base64 DER SPKI (the wallets' owner at creation).
    directory: where each user's wallet ids live.
    policy_for: (user id, wallet address) -> the SigningPolicy every Solana transaction must pass
        (dnbot.security.transaction_validator) before it is sent for signing; default
        `SigningPolicy.for_wallet(address)`; the same hook as dnbot.adapters.solana.signer.LocalKeypairSigner.
    """

    def __init__(self, client: PrivyClient, signer: AuthorizationSigner, owner_public_key: str,
                 directory: WalletDirectory, policy_for: PolicyFor = default_policy) -> None:
        self._client = client
        self._owner_public_key = owner_public_key
        self._directory = directory
        self._policy_for = policy_for
        self._options = PrivyRequestOptions(
            authorization_context=AuthorizationContext(signers=[privy_signer_function(signer)]))
        self._create_lock = threading.Lock()

    # WalletProvisioner

    def wallets_for(self, user_id: str) -> UserWallets:
        record = self.wallet_record(user_id)
        return UserWallets(solana_address=record.solana_address, evm_address=record.evm_address)

    def wallet_record(self, user_id: str) -> PrivyWalletRecord:
        """The user's wallets, creating both on first use (idempotent: the keys are derived from the user)."""
        existing = self._directory.get_wallets(user_id)
        if existing is not None:
            return existing
        with self._create_lock:
            existing = self._directory.get_wallets(user_id)
            if existing is not None:
                return existing
            solana = self._create_wallet(user_id, "solana")
            evm = self._create_wallet(user_id, "ethereum")
            record = PrivyWalletRecord(solana_wallet_id=solana.id, solana_address=solana.address,
                                       evm_wallet_id=evm.id, evm_address=evm.address)
            self._directory.put_wallets(user_id, record)
            return record

    def _create_wallet(self, user_id: str, chain_type: str) -> Any:
        """Find the user's wallet by its external id, else create it.

        The idempotency key covers a retry within Privy's 24-hour window; the external id (write-once at
        Privy) covers a wallet created earlier whose directory write was lost, however long ago.
        """
        external_id = wallet_external_id(user_id, chain_type)
        with _venue_errors(f"look up the {chain_type} wallet"):
            for wallet in self._client.wallets.list(external_id=external_id, chain_type=chain_type):  # type: ignore[arg-type]
                if wallet.external_id == external_id:
                    return wallet
        with _venue_errors(f"create the {chain_type} wallet"):
            return self._client.wallets.create(
                chain_type=chain_type,
                owner={"public_key": self._owner_public_key},
                external_id=external_id,
                idempotency_key=idempotency_key("create-wallet", user_id, chain_type, self._owner_public_key),
            )

    def _record(self, user_id: str) -> PrivyWalletRecord:
        record = self._directory.get_wallets(user_id)
        if record is None:
            raise VenueRejected(f"user {user_id!r} has no Privy wallets yet")
        return record

    # SolanaTransactionSigner

    def sign_transaction(self, user_id: str, tx_base64: str, policy: SigningPolicy | None = None) -> str:
        """`policy`: this one transaction's (a withdrawal names its recipient); default: the wallet's."""
        record = self._record(user_id)
        validate_transaction(tx_base64, policy or self._policy_for(user_id, record.solana_address))
        with _venue_errors("sign the Solana transaction"):
            data = self._client.wallets.solana.sign_transaction(
                record.solana_wallet_id, tx_base64, address=record.solana_address,
                idempotency_key=idempotency_key("signTransaction", user_id, tx_base64),
                request_options=self._options)
        signed: str = data.signed_transaction
        self._check_signed(record.solana_address, tx_base64, signed)
        return signed

    @staticmethod
    def _check_signed(address: str, sent_base64: str, signed_base64: str) -> None:
        """The signed transaction must be the message we validated, with a valid signature by the wallet."""
        sent, signed = parse_transaction(sent_base64), parse_transaction(signed_base64)
        message = _message_bytes(signed)
        if message != _message_bytes(sent):
            raise VenueRejected("Privy returned a different transaction than the one sent for signing")
        wallet = Pubkey.from_string(address)
        keys = list(signed.message.account_keys)
        required = signed.message.header.num_required_signatures
        if wallet not in keys[:required]:
            raise VenueRejected(f"the wallet {address} is not a signer of this transaction")
        signature = signed.signatures[keys.index(wallet)]
        if not signature.verify(wallet, message):
            raise VenueRejected("Privy's signature does not verify against the user's Solana wallet")

    # EvmTypedDataSigner

    def sign_typed_data(self, user_id: str, typed_data: dict[str, Any]) -> str:
        record = self._record(user_id)
        privy_typed_data = {
            "domain": typed_data["domain"],
            "types": typed_data["types"],
            "primary_type": typed_data["primaryType"],
            "message": typed_data["message"],
        }
        canonical = json.dumps(privy_typed_data, sort_keys=True, separators=(",", ":"), default=str)
        with _venue_errors("sign the EIP-712 typed data"):
            data = self._client.wallets.ethereum.sign_typed_data(
                record.evm_wallet_id, params={"typed_data": privy_typed_data},  # type: ignore[typeddict-item]
                address=record.evm_address,
                idempotency_key=idempotency_key("eth_signTypedData_v4", user_id, canonical),
                request_options=self._options)
        signature: str = data.signature
        signature = signature if signature.startswith("0x") else "0x" + signature
        recovered = Account.recover_message(encode_typed_data(full_message=typed_data), signature=signature)
        if recovered.lower() != record.evm_address.lower():
            raise VenueRejected(f"Privy's EIP-712 signature recovers to {recovered}, "
                                f"not {record.evm_address}")
        return signature


# eth-account transaction keys -> Privy's UnsignedStandardEthereumTransaction keys.
_EVM_FIELDS = {"chainId": "chain_id", "nonce": "nonce", "to": "to", "value": "value", "data": "data",
               "gas": "gas_limit", "gasPrice": "gas_price", "maxFeePerGas": "max_fee_per_gas",
               "maxPriorityFeePerGas": "max_priority_fee_per_gas", "type": "type", "from": "from"}


def privy_evm_transaction(transaction: dict[str, Any]) -> dict[str, Any]:
    """An eth-account transaction dict in Privy's shape (snake_case; type as an integer)."""
    unknown = set(transaction) - set(_EVM_FIELDS)
    if unknown:
        raise ValueError(f"unsupported EVM transaction fields: {sorted(unknown)}")
    converted = {_EVM_FIELDS[k]: v for k, v in transaction.items()}
    if isinstance(converted.get("type"), str):
        converted["type"] = int(converted["type"], 16)
    if isinstance(converted.get("data"), bytes):
        converted["data"] = "0x" + converted["data"].hex()
    return converted


class PrivyEvmTransactionSigner:
    """Implements EvmTransactionSigner (the Arbitrum bridge deposit, CCTP burns and mints) with the user's Privy
    EVM wallet (a burn to Solana may only mint to the user's Privy Solana wallet's USDC account).

    The transaction passes dnbot.security.evm_validator first; the signed transaction that comes back must
    recover to the user's wallet and carry the same chain, nonce, recipient, value and calldata.
    """

    def __init__(self, wallets: PrivyWallets) -> None:
        self._wallets = wallets

    def sign_transaction(self, user_id: str, transaction: dict[str, Any]) -> str:
        record = self._wallets._record(user_id)
        validate_evm_transaction(transaction, record.evm_address, record.solana_address)
        params = privy_evm_transaction(transaction)
        canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
        with _venue_errors("sign the EVM transaction"):
            data = self._wallets._client.wallets.ethereum.sign_transaction(
                record.evm_wallet_id, params={"transaction": params},  # type: ignore[typeddict-item]
                address=record.evm_address,
                idempotency_key=idempotency_key("eth_signTransaction", user_id, canonical),
                request_options=self._wallets._options)
        signed: str = data.signed_transaction
        signed = signed if signed.startswith("0x") else "0x" + signed
        _check_evm_signed(transaction, signed, record.evm_address)
        return signed


def _check_evm_signed(sent: dict[str, Any], signed_hex: str, address: str) -> None:
    raw = HexBytes(signed_hex)
    sender = Account.recover_transaction(raw)
    if sender.lower() != address.lower():
        raise VenueRejected(f"Privy's signed EVM transaction is from {sender}, not {address}")
    if not raw or raw[0] >= 0x80:
        return  # a legacy (type 0) transaction: eth-account only tells us its sender, checked above
    decoded = TypedTransaction.from_bytes(raw).as_dict()
    for key, value in sent.items():  # every field we asked for, as asked (fees included: no fee drain)
        if key in ("from", "type"):
            continue
        got = decoded.get(key)
        same = (HexBytes(got or b"") == HexBytes(value or b"") if key in ("to", "data")
                else got is not None and int(got) == (int(value, 16) if isinstance(value, str) else int(value)))
        if not same:
            raise VenueRejected(f"Privy returned a different EVM transaction than the one sent for signing "
                                f"({key}: {got!r} != {value!r})")


@contextmanager
def _venue_errors(action: str) -> Iterator[None]:
    """Maps privy-client errors onto the venue error taxonomy (every write here is idempotent by key)."""
    try:
        yield
    except APIStatusError as exc:
        detail = _error_text(exc)
        if exc.status_code >= 500 or exc.status_code in (408, 429):
            raise TransientVenueError(f"Privy could not {action}: {exc.status_code} {detail}") from exc
        raise VenueRejected(f"Privy refused to {action}: {exc.status_code} {detail}") from exc
    except APIConnectionError as exc:  # includes timeouts: safe to retry with the same idempotency key
        raise TransientVenueError(f"Privy unreachable while trying to {action}: {exc}") from exc
    except PrivyAPIError as exc:
        raise VenueRejected(f"Privy could not {action}: {exc}") from exc


def _error_text(exc: APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])
    return str(body) if body is not None else exc.message

