"""Moving a user's USDC between Solana and Arbitrum on Circle's CCTP V2 (docs/bridge.md), one step at a time.

Each step reads the transfer's record, asks the chain what happened when an answer may have been lost, does
its one thing and saves the record's next state (`domain.bridge.advance`): the record, not the workflow, is the
truth, so any step may be retried or resumed after a crash without burning twice:
- `plan`: the durable record, before anything is signed (one per position, rebalance and direction);
- `burn`: sign, store the signed bytes, THEN send; a retry asks the chain about those bytes, resends them, or,
  when they can provably never land (their blockhash expired unseen, or the chain refused them), abandons;
- `attest`: Circle's attestation (Iris) of the burn; `AttestationPending` until it is signed (retried);
- `mint`: the destination chain's receive; a nonce already used means minted (by us or anyone: the USDC only
  ever goes to the recorded recipient).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.token.associated import get_associated_token_address
from solders.transaction import VersionedTransaction

from dnbot.cctp import SOLANA_USDC_MINT
from dnbot.cctp.message import FAST_FINALITY, STANDARD_FINALITY, CctpMessage, solana_to_bytes32
from dnbot.domain.bridge import (
    Abandoned,
    Attested,
    BridgeDirection,
    BridgeEvent,
    BridgeState,
    BridgeTransfer,
    Burned,
    BurnSigned,
    Credited,
    Minted,
    NeedsAttention,
    advance,
    domains,
    max_fee_usd,
    new_transfer,
    stage,
)
from dnbot.ports import (
    ArbitrumCctpPort,
    AttestationService,
    BridgeTransferStore,
    Clock,
    SolanaCctpPort,
    TransientVenueError,
    UserWallets,
    VenueRejected,
)

USDC_UNITS = Decimal(10) ** 6


def usdc_raw(amount: Decimal) -> int:
    return int((amount * USDC_UNITS).to_integral_value())


def usdc_of(raw: int) -> Decimal:
    return Decimal(raw) / USDC_UNITS


class NotConfirmedYet(TransientVenueError):
    """A sent burn or mint the chain has not confirmed yet: the workflow retries the step, which asks again."""


@dataclass(frozen=True, slots=True)
class BridgeChains:
    solana: SolanaCctpPort
    arbitrum: ArbitrumCctpPort
    iris: AttestationService


class BridgeService:
    def __init__(self, store: BridgeTransferStore, chains: BridgeChains, wallets: Callable[[str], UserWallets],
                 clock: Clock, *, fast: bool = True,
                 new_event_keypair: Callable[[], Keypair] = Keypair) -> None:
        self._store = store
        self._chains = chains
        self._wallets = wallets
        self._clock = clock
        self._fast = fast
        self._new_event_keypair = new_event_keypair

    # --- plan --------------------------------------------------------------------------------------------

    def plan(self, user_id: str, position_id: str, n: int, direction: BridgeDirection,
             amount_usd: Decimal) -> BridgeTransfer:
        """The transfer's record (created once; a retry finds it). The max fee is Iris's Fast fee plus one basis
        point (Standard transfers are free)."""
        wallets = self._wallets(user_id)
        source, destination = domains(direction)
        bps = self._chains.iris.fast_fee_bps(source, destination) if self._fast else 0
        recipient = (wallets.evm_address if direction is BridgeDirection.TO_SHORT
                     else str(_usdc_account(wallets.solana_address)))
        record = new_transfer(user_id=user_id, position_id=position_id, n=n, direction=direction,
                              amount_usd=amount_usd, max_fee=max_fee_usd(amount_usd, bps) if bps else Decimal(0),
                              mint_recipient=recipient, at=self._clock.now())
        existing = self._store.get(user_id, record.transfer_id)
        if existing is not None:
            return existing
        self._store.create(record)
        return record

    # --- burn --------------------------------------------------------------------------------------------

    def burn(self, user_id: str, transfer_id: str) -> BridgeTransfer:
        record = self._get(user_id, transfer_id)
        if stage(record) is BridgeState.PLANNED and record.state is BridgeState.PLANNED:
            record = self._sign_burn(record)
        if stage(record) is BridgeState.BURN_SIGNED:
            record = self._land_burn(record)
        return record

    def _sign_burn(self, record: BridgeTransfer) -> BridgeTransfer:
        wallets = self._wallets(record.user_id)
        finality = self._finality
        if record.direction is BridgeDirection.TO_SHORT:
            event = self._new_event_keypair()
            signed = self._chains.solana.sign_burn(record.user_id, usdc_raw(record.amount_usd), record.mint_recipient,
                                                   usdc_raw(record.max_fee_usd), finality, event)
            return self._save(record, BurnSigned(signed.tx_base64, event_account=signed.event_account))
        burn = self._chains.arbitrum.sign_burn(record.user_id, wallets.evm_address, usdc_raw(record.amount_usd),
                                               record.mint_recipient, usdc_raw(record.max_fee_usd), finality)
        return self._save(record, BurnSigned(burn.encode(), evm_nonce=burn.burn_nonce))

    def _land_burn(self, record: BridgeTransfer) -> BridgeTransfer:
        assert record.signed_burn is not None
        if record.direction is BridgeDirection.TO_SHORT:
            solana = self._chains.solana
            signature = _signature_of(record.signed_burn)
            status = solana.status(signature)
            if status == "unknown":
                try:
                    solana.send(record.signed_burn)
                except VenueRejected as refused:
                    # Refused at the node's preflight (its blockhash expired, the USDC is short): it was not
                    # forwarded, and only this record holds the bytes, which are never sent again.
                    if solana.status(signature) != "landed":
                        return self._save(record, Abandoned(f"the burn was refused and never landed: {refused}"))
                status = solana.status(signature)
            tx = signature
        else:
            arbitrum = self._chains.arbitrum
            burn = arbitrum.decode_burn(record.signed_burn)
            tx = burn.burn_hash
            status = arbitrum.receipt_status(tx)
            if status == "unknown":
                for raw in burn.raws():
                    arbitrum.send(raw)
                status = arbitrum.receipt_status(tx)
        if status == "failed":
            return self._save(record, Abandoned(f"the burn {tx} reverted: nothing was burned"))
        if status != "landed":
            raise NotConfirmedYet(f"burn {tx} of {record.transfer_id} is sent and not confirmed yet")
        return self._save(record, Burned(tx))

    # --- attest, mint --------------------------------------------------------------------------------------

    def attest(self, user_id: str, transfer_id: str) -> BridgeTransfer:
        """Iris's signed message for the burn (AttestationPending, a transient error, until it is ready)."""
        record = self._get(user_id, transfer_id)
        if stage(record) is not BridgeState.BURNED:
            return record
        assert record.burn_tx is not None
        for found in self._chains.iris.attested(record.source_domain, record.burn_tx):
            message = CctpMessage.decode(found.message)
            body = message.burn
            if (body.amount == usdc_raw(record.amount_usd) and _recipient_matches(record, body.mint_recipient)
                    and message.destination_domain == record.destination_domain):
                return self._save(record, Attested(found.message.hex(), found.attestation.hex(), found.nonce.hex(),
                                                   usdc_of(found.fee_executed_raw)))
        return self._save(record, NeedsAttention(
            f"Iris has no message for burn {record.burn_tx} with {record.amount_usd} USDC to {record.mint_recipient}"))

    def mint(self, user_id: str, transfer_id: str) -> BridgeTransfer:
        record = self._get(user_id, transfer_id)
        if stage(record) is not BridgeState.ATTESTED:
            return record
        assert record.message is not None and record.attestation is not None and record.cctp_nonce is not None
        message, attestation = bytes.fromhex(record.message), bytes.fromhex(record.attestation)
        nonce = bytes.fromhex(record.cctp_nonce)
        arriving = record.amount_usd - (record.fee_executed_usd or Decimal(0))
        if record.direction is BridgeDirection.TO_SHORT:
            arbitrum = self._chains.arbitrum
            if arbitrum.nonce_used(nonce):
                return self._save(record, Minted(None, arriving))
            wallets = self._wallets(user_id)
            signed = arbitrum.sign_receive(user_id, wallets.evm_address, message, attestation)
            tx = arbitrum.send(signed.raw)
            landed = arbitrum.receipt_status(tx) == "landed"
        else:
            solana = self._chains.solana
            if solana.nonce_used(nonce):
                return self._save(record, Minted(None, arriving))
            tx = solana.send(solana.sign_receive(user_id, message, attestation))
            landed = solana.status(tx) == "landed"
        if not landed and not self._nonce_used(record, nonce):
            raise NotConfirmedYet(f"mint {tx} of {record.transfer_id} is sent and not confirmed yet")
        return self._save(record, Minted(tx if landed else None, arriving))

    # --- after the mint ------------------------------------------------------------------------------------

    def credited(self, user_id: str, transfer_id: str) -> BridgeTransfer:
        """The venue holds what was minted (the caller booked it): the transfer ends."""
        return self._save(self._get(user_id, transfer_id), Credited())

    def abandon_if_planned(self, user_id: str, transfer_id: str, why: str) -> BridgeTransfer | None:
        """A transfer nothing was signed for will never burn: abandoned (the deposit sweep may then take its
        USDC). Anything further along is left as it is."""
        record = self._store.get(user_id, transfer_id)
        if record is None or record.state is not BridgeState.PLANNED:
            return record
        return self._save(record, Abandoned(why))

    def record(self, user_id: str, transfer_id: str) -> BridgeTransfer:
        return self._get(user_id, transfer_id)

    # --- plumbing --------------------------------------------------------------------------------------------

    @property
    def _finality(self) -> int:
        return FAST_FINALITY if self._fast else STANDARD_FINALITY

    def _nonce_used(self, record: BridgeTransfer, nonce: bytes) -> bool:
        chain = self._chains.arbitrum if record.direction is BridgeDirection.TO_SHORT else self._chains.solana
        return chain.nonce_used(nonce)

    def _get(self, user_id: str, transfer_id: str) -> BridgeTransfer:
        record = self._store.get(user_id, transfer_id)
        if record is None:
            raise LookupError(f"no bridge transfer {transfer_id} for user {user_id}")
        return record

    def _save(self, record: BridgeTransfer, event: BridgeEvent) -> BridgeTransfer:
        moved = advance(record, event, self._clock.now())
        if moved is not record:
            self._store.save(moved)
        return moved


def _signature_of(tx_base64: str) -> str:
    return str(VersionedTransaction.from_bytes(base64.b64decode(tx_base64)).signatures[0])


def _usdc_account(owner: str) -> Pubkey:
    return get_associated_token_address(Pubkey.from_string(owner), Pubkey.from_string(SOLANA_USDC_MINT))


def _recipient_matches(record: BridgeTransfer, mint_recipient: bytes) -> bool:
    if record.direction is BridgeDirection.TO_SHORT:
        return mint_recipient[12:].hex() == record.mint_recipient.lower().removeprefix("0x")
    return mint_recipient == solana_to_bytes32(record.mint_recipient)
