"""Circle CCTP V2 on Solana: program ids, PDAs, instruction layouts and account states (pure, no I/O).

Shared by the Solana adapter (dnbot.adapters.solana.cctp builds and sends), the signing policy
(dnbot.security.transaction_validator decodes) and the simulator (dnbot.sim.solana_cctp executes), so that one
byte-wrong field fails the same way in all three. Seeds, account orders and Borsh layouts are those of
circlefin/solana-cctp-contracts `programs/v2` (docs/bridge.md sections 1-3): Anchor programs, so an
instruction starts with sha256("global:<name>")[:8] and an account with sha256("account:<Type>")[:8].
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.token.associated import get_associated_token_address

from dnbot.cctp import SOLANA_MESSAGE_TRANSMITTER_V2, SOLANA_TOKEN_MESSENGER_MINTER_V2, SOLANA_USDC_MINT
from dnbot.cctp.message import BurnBody, CctpMessage, MalformedMessage

MESSAGE_TRANSMITTER = Pubkey.from_string(SOLANA_MESSAGE_TRANSMITTER_V2)
TOKEN_MESSENGER_MINTER = Pubkey.from_string(SOLANA_TOKEN_MESSENGER_MINTER_V2)
USDC_MINT = Pubkey.from_string(SOLANA_USDC_MINT)
CCTP_PROGRAMS: frozenset[Pubkey] = frozenset({MESSAGE_TRANSMITTER, TOKEN_MESSENGER_MINTER})
TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
SYSTEM_PROGRAM = Pubkey.from_string("11111111111111111111111111111111")


def anchor_discriminator(namespace: str, name: str) -> bytes:
    return hashlib.sha256(f"{namespace}:{name}".encode()).digest()[:8]


DEPOSIT_FOR_BURN = anchor_discriminator("global", "deposit_for_burn")  # d73c3d2e723780b0
RECEIVE_MESSAGE = anchor_discriminator("global", "receive_message")  # 26907fe11fe1ee19
RECLAIM_EVENT_ACCOUNT = anchor_discriminator("global", "reclaim_event_account")  # 5ec6b49f83ec0fae
TOKEN_MESSENGER_ACCOUNT = anchor_discriminator("account", "TokenMessenger")
USED_NONCE_ACCOUNT = anchor_discriminator("account", "UsedNonce")
MESSAGE_SENT_ACCOUNT = anchor_discriminator("account", "MessageSent")

# Account positions in the instructions (docs/bridge.md tables): what the validator and the simulator read.
BURN_OWNER, BURN_RENT_PAYER, BURN_TOKEN_ACCOUNT, BURN_REMOTE_TOKEN_MESSENGER = 0, 1, 3, 7
BURN_MINT, BURN_EVENT_ACCOUNT, BURN_ACCOUNT_COUNT = 10, 11, 18
RECEIVE_PAYER, RECEIVE_USED_NONCE, RECEIVE_RECEIVER = 0, 4, 5
RECEIVE_FEE_RECIPIENT_TOKEN_ACCOUNT, RECEIVE_RECIPIENT_TOKEN_ACCOUNT, RECEIVE_ACCOUNT_COUNT = 14, 15, 20
RECLAIM_PAYEE, RECLAIM_EVENT_ACCOUNT_INDEX, RECLAIM_ACCOUNT_COUNT = 0, 2, 3
EVENT_ACCOUNT_WINDOW_SECONDS = 5 * 24 * 3600  # an event account can be closed once this old
MIN_FEE_MULTIPLIER = 10_000_000  # TokenMessenger.min_fee is in 1/1000 of a basis point


# --- PDAs -----------------------------------------------------------------------------------------------

def _tmm(*seeds: bytes) -> Pubkey:
    return Pubkey.find_program_address(list(seeds), TOKEN_MESSENGER_MINTER)[0]


def _mt(*seeds: bytes) -> Pubkey:
    return Pubkey.find_program_address(list(seeds), MESSAGE_TRANSMITTER)[0]


def _domain_seed(domain: int) -> bytes:
    return str(domain).encode()  # the domain as a decimal string (`domain.to_string()` in the program)


TOKEN_MESSENGER = _tmm(b"token_messenger")
TOKEN_MINTER = _tmm(b"token_minter")
SENDER_AUTHORITY = _tmm(b"sender_authority")
LOCAL_TOKEN_USDC = _tmm(b"local_token", bytes(USDC_MINT))
CUSTODY_USDC = _tmm(b"custody", bytes(USDC_MINT))
TMM_EVENT_AUTHORITY = _tmm(b"__event_authority")
MESSAGE_TRANSMITTER_STATE = _mt(b"message_transmitter")
MT_EVENT_AUTHORITY = _mt(b"__event_authority")
MT_AUTHORITY_FOR_TMM = _mt(b"message_transmitter_authority", bytes(TOKEN_MESSENGER_MINTER))


def remote_token_messenger(domain: int) -> Pubkey:
    return _tmm(b"remote_token_messenger", _domain_seed(domain))


def token_pair(domain: int, remote_token: bytes) -> Pubkey:
    """The link between a remote domain's token (32 bytes, an EVM address left-padded) and the local mint."""
    if len(remote_token) != 32:
        raise ValueError("a remote token is 32 bytes")
    return _tmm(b"token_pair", _domain_seed(domain), remote_token)


def denylist_account(owner: Pubkey) -> Pubkey:
    return _tmm(b"denylist_account", bytes(owner))


def used_nonce(nonce: bytes) -> Pubkey:
    """The account MessageTransmitterV2 `init`s when it receives the message with this 32-byte nonce."""
    if len(nonce) != 32:
        raise ValueError("a CCTP V2 nonce is 32 bytes")
    return _mt(b"used_nonce", nonce)


def usdc_account(owner: Pubkey) -> Pubkey:
    """The owner's USDC associated token account: where a burn takes from and a receive mints to."""
    return get_associated_token_address(owner, USDC_MINT)


# --- deposit_for_burn -----------------------------------------------------------------------------------

_BURN_PARAMS = struct.Struct("<QI32s32sQI")  # Borsh DepositForBurnParams: 88 bytes


@dataclass(frozen=True, slots=True)
class DepositForBurnParams:
    amount: int  # USDC base units
    destination_domain: int
    mint_recipient: bytes  # 32
    destination_caller: bytes  # 32; zero: anyone may mint (to mint_recipient only)
    max_fee: int
    min_finality_threshold: int

    def encode(self) -> bytes:
        if len(self.mint_recipient) != 32 or len(self.destination_caller) != 32:
            raise ValueError("mint_recipient and destination_caller are 32 bytes")
        return DEPOSIT_FOR_BURN + _BURN_PARAMS.pack(self.amount, self.destination_domain, self.mint_recipient,
                                                    self.destination_caller, self.max_fee,
                                                    self.min_finality_threshold)

    @classmethod
    def decode(cls, data: bytes) -> DepositForBurnParams:
        if data[:8] != DEPOSIT_FOR_BURN or len(data) != 8 + _BURN_PARAMS.size:
            raise MalformedMessage("not a deposit_for_burn instruction (discriminator or length)")
        amount, domain, recipient, caller, max_fee, finality = _BURN_PARAMS.unpack(data[8:])
        return cls(amount, domain, recipient, caller, max_fee, finality)


def deposit_for_burn_ix(owner: Pubkey, event_account: Pubkey, params: DepositForBurnParams) -> Instruction:
    """TokenMessengerMinterV2.deposit_for_burn: burns `params.amount` USDC from the owner's USDC account; the
    owner also pays the event account's rent; `event_account` is a fresh keypair that signs too."""
    metas = [
        AccountMeta(owner, is_signer=True, is_writable=False),
        AccountMeta(owner, is_signer=True, is_writable=True),  # event_rent_payer
        AccountMeta(SENDER_AUTHORITY, is_signer=False, is_writable=False),
        AccountMeta(usdc_account(owner), is_signer=False, is_writable=True),
        AccountMeta(denylist_account(owner), is_signer=False, is_writable=False),
        AccountMeta(MESSAGE_TRANSMITTER_STATE, is_signer=False, is_writable=True),
        AccountMeta(TOKEN_MESSENGER, is_signer=False, is_writable=False),
        AccountMeta(remote_token_messenger(params.destination_domain), is_signer=False, is_writable=False),
        AccountMeta(TOKEN_MINTER, is_signer=False, is_writable=False),
        AccountMeta(LOCAL_TOKEN_USDC, is_signer=False, is_writable=True),
        AccountMeta(USDC_MINT, is_signer=False, is_writable=True),
        AccountMeta(event_account, is_signer=True, is_writable=True),
        AccountMeta(MESSAGE_TRANSMITTER, is_signer=False, is_writable=False),
        AccountMeta(TOKEN_MESSENGER_MINTER, is_signer=False, is_writable=False),
        AccountMeta(TOKEN_PROGRAM, is_signer=False, is_writable=False),
        AccountMeta(SYSTEM_PROGRAM, is_signer=False, is_writable=False),
        AccountMeta(TMM_EVENT_AUTHORITY, is_signer=False, is_writable=False),  # #[event_cpi]
        AccountMeta(TOKEN_MESSENGER_MINTER, is_signer=False, is_writable=False),
    ]
    return Instruction(TOKEN_MESSENGER_MINTER, params.encode(), metas)


# --- receive_message ------------------------------------------------------------------------------------

def _vec(value: bytes) -> bytes:
    return struct.pack("<I", len(value)) + value


def _read_vecs(data: bytes, count: int) -> list[bytes]:
    values, offset = [], 8
    for _ in range(count):
        if len(data) < offset + 4:
            raise MalformedMessage("truncated instruction data")
        (size,) = struct.unpack_from("<I", data, offset)
        if len(data) < offset + 4 + size:
            raise MalformedMessage("truncated instruction data")
        values.append(data[offset + 4:offset + 4 + size])
        offset += 4 + size
    if offset != len(data):
        raise MalformedMessage("trailing bytes after the instruction's parameters")
    return values


@dataclass(frozen=True, slots=True)
class ReceiveMessageParams:
    message: bytes
    attestation: bytes

    def encode(self) -> bytes:  # Borsh: two Vec<u8> (u32 length + bytes)
        return RECEIVE_MESSAGE + _vec(self.message) + _vec(self.attestation)

    @classmethod
    def decode(cls, data: bytes) -> ReceiveMessageParams:
        if data[:8] != RECEIVE_MESSAGE:
            raise MalformedMessage("not a receive_message instruction")
        message, attestation = _read_vecs(data, 2)
        return cls(message, attestation)


def receive_message_ix(payer: Pubkey, message: bytes, attestation: bytes,
                       fee_recipient_token_account: Pubkey) -> Instruction:
    """MessageTransmitterV2.receive_message of a burn for TokenMessengerMinterV2; the accounts TMM needs are
    derived from the message itself (its nonce, source domain, burn token and mint recipient), so they cannot
    disagree with it. `payer` is also the caller (any caller may receive when destination_caller is zero)."""
    decoded = CctpMessage.decode(message)
    burn = BurnBody.decode(decoded.body)
    recipient = Pubkey.from_bytes(burn.mint_recipient)
    metas = [
        AccountMeta(payer, is_signer=True, is_writable=True),
        AccountMeta(payer, is_signer=True, is_writable=False),  # caller
        AccountMeta(MT_AUTHORITY_FOR_TMM, is_signer=False, is_writable=False),
        AccountMeta(MESSAGE_TRANSMITTER_STATE, is_signer=False, is_writable=False),
        AccountMeta(used_nonce(decoded.nonce), is_signer=False, is_writable=True),
        AccountMeta(TOKEN_MESSENGER_MINTER, is_signer=False, is_writable=False),  # receiver
        AccountMeta(SYSTEM_PROGRAM, is_signer=False, is_writable=False),
        AccountMeta(MT_EVENT_AUTHORITY, is_signer=False, is_writable=False),  # #[event_cpi]
        AccountMeta(MESSAGE_TRANSMITTER, is_signer=False, is_writable=False),
        # remaining accounts, forwarded to TMM's handle_receive_{finalized,unfinalized}_message
        AccountMeta(TOKEN_MESSENGER, is_signer=False, is_writable=False),
        AccountMeta(remote_token_messenger(decoded.source_domain), is_signer=False, is_writable=False),
        AccountMeta(TOKEN_MINTER, is_signer=False, is_writable=True),
        AccountMeta(LOCAL_TOKEN_USDC, is_signer=False, is_writable=True),
        AccountMeta(token_pair(decoded.source_domain, burn.burn_token), is_signer=False, is_writable=False),
        AccountMeta(fee_recipient_token_account, is_signer=False, is_writable=True),
        AccountMeta(recipient, is_signer=False, is_writable=True),
        AccountMeta(CUSTODY_USDC, is_signer=False, is_writable=True),
        AccountMeta(TOKEN_PROGRAM, is_signer=False, is_writable=False),
        AccountMeta(TMM_EVENT_AUTHORITY, is_signer=False, is_writable=False),
        AccountMeta(TOKEN_MESSENGER_MINTER, is_signer=False, is_writable=False),
    ]
    return Instruction(MESSAGE_TRANSMITTER, ReceiveMessageParams(message, attestation).encode(), metas)


# --- reclaim_event_account ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ReclaimEventAccountParams:
    attestation: bytes
    destination_message: bytes  # the attested message (from Iris) of the burn stored in the event account

    def encode(self) -> bytes:
        return RECLAIM_EVENT_ACCOUNT + _vec(self.attestation) + _vec(self.destination_message)

    @classmethod
    def decode(cls, data: bytes) -> ReclaimEventAccountParams:
        if data[:8] != RECLAIM_EVENT_ACCOUNT:
            raise MalformedMessage("not a reclaim_event_account instruction")
        attestation, destination_message = _read_vecs(data, 2)
        return cls(attestation, destination_message)


def reclaim_event_account_ix(payee: Pubkey, event_account: Pubkey, attestation: bytes,
                             destination_message: bytes) -> Instruction:
    """MessageTransmitterV2.reclaim_event_account: closes a burn's event account (5 days old at least) and returns
    its rent to `payee`, who must be the account's rent payer."""
    metas = [AccountMeta(payee, is_signer=True, is_writable=True),
             AccountMeta(MESSAGE_TRANSMITTER_STATE, is_signer=False, is_writable=True),
             AccountMeta(event_account, is_signer=False, is_writable=True)]
    return Instruction(MESSAGE_TRANSMITTER, ReclaimEventAccountParams(attestation, destination_message).encode(),
                       metas)


def source_fields(message: bytes) -> bytes:
    """What MessageTransmitterV2's `hash_source_fields` covers: the fields the source chain set (not the nonce nor
    the finality executed) and the length: a destination message matches its source message on these."""
    return message[0:12] + message[44:144] + len(message).to_bytes(8, "big")


# --- account states ---------------------------------------------------------------------------------------

_TOKEN_MESSENGER_STATE = struct.Struct("<32s32s32sIB32s32sI")


@dataclass(frozen=True, slots=True)
class TokenMessengerState:
    """TokenMessengerMinterV2's `TokenMessenger` account (state.rs): who takes the Fast fee, the minimum fee."""

    denylister: Pubkey
    owner: Pubkey
    pending_owner: Pubkey
    message_body_version: int
    authority_bump: int
    fee_recipient: Pubkey
    min_fee_controller: Pubkey
    min_fee: int  # in units of 1/MIN_FEE_MULTIPLIER of the amount

    def encode(self) -> bytes:
        return TOKEN_MESSENGER_ACCOUNT + _TOKEN_MESSENGER_STATE.pack(
            bytes(self.denylister), bytes(self.owner), bytes(self.pending_owner), self.message_body_version,
            self.authority_bump, bytes(self.fee_recipient), bytes(self.min_fee_controller), self.min_fee)

    @classmethod
    def decode(cls, data: bytes) -> TokenMessengerState:
        if data[:8] != TOKEN_MESSENGER_ACCOUNT or len(data) < 8 + _TOKEN_MESSENGER_STATE.size:
            raise MalformedMessage("not a TokenMessenger account")
        fields = _TOKEN_MESSENGER_STATE.unpack_from(data, 8)
        return cls(Pubkey.from_bytes(fields[0]), Pubkey.from_bytes(fields[1]), Pubkey.from_bytes(fields[2]),
                   fields[3], fields[4], Pubkey.from_bytes(fields[5]), Pubkey.from_bytes(fields[6]), fields[7])

    def min_fee_amount(self, amount: int) -> int:
        """The least max_fee a burn of `amount` may offer (`get_min_fee_amount`): 0 when min_fee is 0."""
        if self.min_fee == 0:
            return 0
        return max(1, amount * self.min_fee // MIN_FEE_MULTIPLIER)

    @property
    def fee_recipient_token_account(self) -> Pubkey:
        return usdc_account(self.fee_recipient)

