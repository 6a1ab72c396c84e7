"""The Solana half of the USDC bridge (Circle CCTP V2, docs/bridge.md): burn the user's USDC towards their
Arbitrum address, receive (mint) an attested Arbitrum burn into their USDC account, and read the chain.

The instruction layouts, PDAs and account states live in dnbot.cctp.solana (shared with the signing policy and
the simulator); this adapter builds the transactions, has the user's wallet sign them through the signing
policy (dnbot.security.transaction_validator with the user's EVM address, so a burn can only mint to them),
and sends them through the Solana RPC.

A burn needs two signatures: the wallet's (fee payer) and a fresh event account's (MessageTransmitterV2 `init`s
it to store the message). The wallet signs first, through Privy or a local signer, then the adapter places the
event keypair's signature in its slot, so Privy never has to accept a partially-signed transaction. Keep the
keypair with the transfer record: a rebuilt burn with the same event account cannot land twice.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Protocol

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from spl.token.instructions import create_idempotent_associated_token_account

from dnbot.adapters.solana.rpc import SolanaRpc
from dnbot.cctp import ARBITRUM_DOMAIN
from dnbot.cctp.message import evm_to_bytes32
from dnbot.cctp.solana import (
    TOKEN_MESSENGER,
    USDC_MINT,
    DepositForBurnParams,
    TokenMessengerState,
    deposit_for_burn_ix,
    receive_message_ix,
    reclaim_event_account_ix,
    usdc_account,
    used_nonce,
)
from dnbot.ports import (
    EventAccountWindowOpen,
    MessageExpired,
    PrivyWalletRecord,
    SignedSolanaBurn,
    TransientVenueError,
    VenueRejected,
)
from dnbot.security.transaction_validator import SigningPolicy

# A packet's worth: nodes refuse a bigger transaction. A receive_message (a 376-byte message, a two-signature
# attestation and 20 accounts) takes ~1226 bytes: no room for another instruction in the same transaction.
MAX_TRANSACTION_BYTES = 1232
# TokenMessengerMinterV2's MessageExpired (a Fast message past its expiration_block, checked against the slot [S3]),
# as a node reports a refused receive_message: the Anchor error name in the program's log, or its number (6016,
# from the program's error enum as the simulator lists it; **unverified** against a mainnet answer) in the
# preflight's "custom program error". MessageTransmitterV2's error 6016 (SenderNotPermitted) is send_message's only.
MESSAGE_EXPIRED_MARKS = ("Error Code: MessageExpired", "custom program error: 0x1780")
# MessageTransmitterV2's EventAccountWindowNotExpired (reclaim_event_account before the event account is 5 days
# old): the Anchor error name, or its number (6033 in the program's error enum as the simulator lists it;
# **unverified** against a mainnet answer).
EVENT_WINDOW_MARKS = ("Error Code: EventAccountWindowNotExpired", "custom program error: 0x1791")


class CctpWallets(Protocol):
    """What the adapter needs of the user's wallets (PrivyWallets implements it)."""

    def wallet_record(self, user_id: str) -> PrivyWalletRecord: ...

    def sign_transaction(self, user_id: str, tx_base64: str, policy: SigningPolicy | None = None) -> str: ...


class SolanaCctp:
    """Implements dnbot.ports.SolanaCctpPort."""

    def __init__(self, rpc: SolanaRpc, wallets: Callable[[], CctpWallets],
                 ata_wait_seconds: float = 30.0) -> None:
        self._rpc = rpc
        self._wallets = wallets
        self._ata_wait_seconds = ata_wait_seconds

    # --- signing ------------------------------------------------------------------------------------------

    def sign_burn(self, user_id: str, amount_raw: int, evm_recipient: str, max_fee_raw: int,
                  min_finality: int, event_keypair: Keypair) -> SignedSolanaBurn:
        """A deposit_for_burn of `amount_raw` USDC base units from the user's USDC account towards Arbitrum,
        minting to `evm_recipient` (refused by the signing policy unless it is the user's own EVM address).
        Raises TransactionRefusedError if the policy refuses it."""
        wallets = self._wallets()
        record = wallets.wallet_record(user_id)
        owner = Pubkey.from_string(record.solana_address)
        params = DepositForBurnParams(amount=amount_raw, destination_domain=ARBITRUM_DOMAIN,
                                      mint_recipient=evm_to_bytes32(evm_recipient), destination_caller=bytes(32),
                                      max_fee=max_fee_raw, min_finality_threshold=min_finality)
        message = self._compile(owner, [deposit_for_burn_ix(owner, event_keypair.pubkey(), params)])
        signed = parse(wallets.sign_transaction(user_id, encode(_unsigned(message)), self._policy(record)))
        if bytes(to_bytes_versioned(signed.message)) != bytes(to_bytes_versioned(message)):
            raise VenueRejected("the wallet signed a different burn than the one built")
        signers = list(message.account_keys[: message.header.num_required_signatures])
        event_signature = event_keypair.sign_message(to_bytes_versioned(message))
        signatures = [event_signature if key == event_keypair.pubkey() else existing
                      for key, existing in zip(signers, signed.signatures, strict=True)]
        complete = VersionedTransaction.populate(message, signatures)
        return SignedSolanaBurn(str(signatures[0]), encode(complete), str(event_keypair.pubkey()))

    def sign_receive(self, user_id: str, message: bytes, attestation: bytes) -> str:
        """A receive_message minting an attested burn to the user's USDC account (the message's mint recipient);
        base64, signed by the wallet. With the attestation the transaction fills a packet, so the user's USDC
        account cannot be created in it: if it does not exist yet, an idempotent creation is signed and sent
        first (harmless to repeat) and waited for."""
        wallets = self._wallets()
        record = wallets.wallet_record(user_id)
        owner = Pubkey.from_string(record.solana_address)
        policy = self._policy(record)
        self._ensure_usdc_account(user_id, owner, wallets, policy)
        fee_account = self.fee_recipient_token_account()
        compiled = self._compile(owner, [receive_message_ix(owner, message, attestation, fee_account)])
        return wallets.sign_transaction(user_id, encode(_unsigned(compiled)), policy)

    def sign_reclaim(self, user_id: str, event_account: str, attestation: bytes, destination_message: bytes) -> str:
        """A reclaim_event_account (base64, signed by the wallet) returning a burn's event account rent to the wallet;
        the program accepts it once the account is 5 days old, with the burn's attested message and attestation."""
        wallets = self._wallets()
        record = wallets.wallet_record(user_id)
        owner = Pubkey.from_string(record.solana_address)
        ix = reclaim_event_account_ix(owner, Pubkey.from_string(event_account), attestation, destination_message)
        return wallets.sign_transaction(user_id, encode(_unsigned(self._compile(owner, [ix]))), self._policy(record))

    def fee_recipient_token_account(self) -> Pubkey:
        """The USDC account of TokenMessengerMinterV2's fee recipient (read from its TokenMessenger account)."""
        return self._token_messenger().fee_recipient_token_account

    def min_fee_raw(self, amount_raw: int) -> int:
        """The least max_fee Solana accepts on a burn of `amount_raw` (TokenMessenger.min_fee; 0 today): a burn
        offering less reverts whatever Iris would charge."""
        return self._token_messenger().min_fee_amount(amount_raw)

    def _token_messenger(self) -> TokenMessengerState:
        data = self._rpc.account_data(str(TOKEN_MESSENGER))
        if data is None:
            raise VenueRejected(f"the TokenMessenger account {TOKEN_MESSENGER} does not exist on this chain")
        return TokenMessengerState.decode(data)

    def _ensure_usdc_account(self, user_id: str, owner: Pubkey, wallets: CctpWallets,
                             policy: SigningPolicy) -> None:
        account = usdc_account(owner)
        if self._rpc.account_data(str(account)) is not None:
            return
        create = self._compile(owner, [create_idempotent_associated_token_account(owner, owner, USDC_MINT)])
        signature = self.send(wallets.sign_transaction(user_id, encode(_unsigned(create)), policy))
        deadline = time.monotonic() + self._ata_wait_seconds
        while self.status(signature) != "landed":
            if time.monotonic() > deadline:
                raise TransientVenueError(f"the USDC account {account} is not created yet ({signature})")
            time.sleep(0.5)

    def _compile(self, owner: Pubkey, instructions: list[Instruction]) -> MessageV0:
        blockhash, _ = self._rpc.latest_blockhash()
        message = MessageV0.try_compile(owner, instructions, [], Hash.from_string(blockhash))
        size = len(bytes(_unsigned(message)))
        if size > MAX_TRANSACTION_BYTES:
            raise VenueRejected(f"the transaction would be {size} bytes, over Solana's {MAX_TRANSACTION_BYTES}")
        return message

    @staticmethod
    def _policy(record: PrivyWalletRecord) -> SigningPolicy:
        return SigningPolicy.for_wallet(record.solana_address, evm_address=record.evm_address)

    # --- the chain ----------------------------------------------------------------------------------------

    def send(self, tx_base64: str) -> str:
        """Send a signed transaction; its signature. A resend of one that landed answers its signature too. A
        receive of a Fast message past its expiration_block raises MessageExpired, a reclaim of an event account
        not 5 days old EventAccountWindowOpen (the preflight's answers)."""
        try:
            return self._rpc.send_transaction(tx_base64, "the CCTP transaction")
        except VenueRejected as refused:
            if any(mark in str(refused) for mark in MESSAGE_EXPIRED_MARKS):
                raise MessageExpired(str(refused)) from refused
            if any(mark in str(refused) for mark in EVENT_WINDOW_MARKS):
                raise EventAccountWindowOpen(str(refused)) from refused
            raise

    def status(self, signature: str) -> str:
        """"landed" (confirmed or finalized without error), "failed" (landed with an error) or "unknown"."""
        state = self._rpc.signature_status(signature)
        if state is None:
            return "unknown"
        if state.error is not None:
            return "failed"
        return "landed" if state.confirmation_status in ("confirmed", "finalized") else "unknown"

    def can_still_land(self, tx_base64: str) -> bool:
        """Whether the transaction's recent blockhash is still valid (isBlockhashValid): once it is not, a
        transaction never seen by the chain can never land."""
        return self._rpc.blockhash_valid(str(parse(tx_base64).message.recent_blockhash))

    def nonce_used(self, nonce: bytes) -> bool:
        """Whether a message with this 32-byte nonce has been received on Solana (its used_nonce PDA exists)."""
        return self._rpc.account_data(str(used_nonce(nonce))) is not None

    def event_account_open(self, address: str) -> bool:
        """Whether a burn's event account still exists: reclaim_event_account closes it (its rent to the payer)."""
        return self._rpc.account_data(address) is not None


def _unsigned(message: MessageV0) -> VersionedTransaction:
    return VersionedTransaction.populate(message, [Signature.default()] * message.header.num_required_signatures)


def encode(tx: VersionedTransaction) -> str:
    return base64.b64encode(bytes(tx)).decode("ascii")


def parse(tx_base64: str) -> VersionedTransaction:
    return VersionedTransaction.from_bytes(base64.b64decode(tx_base64))
