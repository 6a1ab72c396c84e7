"""Circle CCTP V2 wire formats: the message and burn body bytes, the 32-byte address forms and attestations.

One codec for everything that touches a CCTP transfer (the Solana and Arbitrum adapters, the signing validators
and the simulator), so a byte-wrong field fails the same way everywhere. Layouts from circlefin/evm-cctp-contracts
`src/messages/v2/MessageV2.sol` and `BurnMessageV2.sol` (packed, big-endian; uintNN left-padded, bytesNN as is);
attestations as `MessageTransmitterV2` verifies them (docs/bridge.md section 2, "Attestation"). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from eth_account import Account
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from solders.pubkey import Pubkey

MESSAGE_VERSION = 1  # MessageV2 as deployed by Circle on mainnet
BURN_BODY_VERSION = 1  # BurnMessageV2 as deployed
MESSAGE_BODY_INDEX = 148
BURN_HOOK_DATA_INDEX = 228
FAST_FINALITY = 1000  # "confirmed": Fast Transfer, a fee is taken from the minted amount
STANDARD_FINALITY = 2000  # "finalized": free
SIGNATURE_LENGTH = 65
# secp256k1 group order: a signature's s must be in the lower half (as OpenZeppelin's ECDSA.recover demands)
_HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
EMPTY_BYTES32 = bytes(32)


class MalformedMessage(ValueError):
    """Bytes that are not a CCTP V2 message or burn body."""


class InvalidAttestation(ValueError):
    """An attestation that the destination chain's MessageTransmitterV2 would refuse."""


# --- 32-byte address forms ------------------------------------------------------------------------------

def evm_to_bytes32(address: str) -> bytes:
    """An EVM address left-padded with 12 zero bytes (Circle's `addressToBytes32`)."""
    raw = bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20:
        raise ValueError(f"{address!r} is not a 20-byte EVM address")
    return bytes(12) + raw


def bytes32_to_evm(value: bytes) -> str:
    if len(value) != 32 or value[:12] != bytes(12):
        raise ValueError("not an EVM address in 32 bytes (the first 12 must be zero)")
    return str(to_checksum_address(value[12:]))


def solana_to_bytes32(address: str) -> bytes:
    return bytes(Pubkey.from_string(address))


def bytes32_to_solana(value: bytes) -> str:
    if len(value) != 32:
        raise ValueError("a Solana address is 32 bytes")
    return str(Pubkey.from_bytes(value))


# --- the message and its burn body ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BurnBody:
    burn_token: bytes  # 32
    mint_recipient: bytes  # 32
    amount: int  # base units (USDC: 6 decimals)
    message_sender: bytes  # 32
    max_fee: int
    fee_executed: int = 0  # filled in by the attestation service for a Fast transfer
    expiration_block: int = 0
    hook_data: bytes = b""
    version: int = BURN_BODY_VERSION

    def encode(self) -> bytes:
        for name in ("burn_token", "mint_recipient", "message_sender"):
            if len(getattr(self, name)) != 32:
                raise MalformedMessage(f"{name} must be 32 bytes")
        return (self.version.to_bytes(4, "big") + self.burn_token + self.mint_recipient
                + self.amount.to_bytes(32, "big") + self.message_sender + self.max_fee.to_bytes(32, "big")
                + self.fee_executed.to_bytes(32, "big") + self.expiration_block.to_bytes(32, "big")
                + self.hook_data)

    @classmethod
    def decode(cls, raw: bytes) -> BurnBody:
        if len(raw) < BURN_HOOK_DATA_INDEX:
            raise MalformedMessage(f"a burn body is at least {BURN_HOOK_DATA_INDEX} bytes, got {len(raw)}")
        return cls(version=int.from_bytes(raw[0:4], "big"), burn_token=raw[4:36], mint_recipient=raw[36:68],
                   amount=int.from_bytes(raw[68:100], "big"), message_sender=raw[100:132],
                   max_fee=int.from_bytes(raw[132:164], "big"), fee_executed=int.from_bytes(raw[164:196], "big"),
                   expiration_block=int.from_bytes(raw[196:228], "big"), hook_data=raw[228:])


@dataclass(frozen=True, slots=True)
class CctpMessage:
    source_domain: int
    destination_domain: int
    sender: bytes  # 32: the source chain's token messenger
    recipient: bytes  # 32: the destination chain's token messenger
    destination_caller: bytes  # 32: zero lets anyone mint (to the burn body's mint recipient only)
    min_finality_threshold: int
    body: bytes
    nonce: bytes = EMPTY_BYTES32  # assigned by the attestation service, empty in the source chain's message
    finality_threshold_executed: int = 0
    version: int = MESSAGE_VERSION

    def encode(self) -> bytes:
        for name in ("sender", "recipient", "destination_caller", "nonce"):
            if len(getattr(self, name)) != 32:
                raise MalformedMessage(f"{name} must be 32 bytes")
        return (self.version.to_bytes(4, "big") + self.source_domain.to_bytes(4, "big")
                + self.destination_domain.to_bytes(4, "big") + self.nonce + self.sender + self.recipient
                + self.destination_caller + self.min_finality_threshold.to_bytes(4, "big")
                + self.finality_threshold_executed.to_bytes(4, "big") + self.body)

    @classmethod
    def decode(cls, raw: bytes) -> CctpMessage:
        if len(raw) < MESSAGE_BODY_INDEX:
            raise MalformedMessage(f"a CCTP message is at least {MESSAGE_BODY_INDEX} bytes, got {len(raw)}")
        return cls(version=int.from_bytes(raw[0:4], "big"), source_domain=int.from_bytes(raw[4:8], "big"),
                   destination_domain=int.from_bytes(raw[8:12], "big"), nonce=raw[12:44], sender=raw[44:76],
                   recipient=raw[76:108], destination_caller=raw[108:140],
                   min_finality_threshold=int.from_bytes(raw[140:144], "big"),
                   finality_threshold_executed=int.from_bytes(raw[144:148], "big"), body=raw[148:])

    @property
    def burn(self) -> BurnBody:
        return BurnBody.decode(self.body)

    def attested(self, nonce: bytes, finality_threshold_executed: int, fee_executed: int) -> CctpMessage:
        """The message as the attestation service signs it: its nonce, the finality reached and the fee taken."""
        return replace(self, nonce=nonce, finality_threshold_executed=finality_threshold_executed,
                       body=replace(self.burn, fee_executed=fee_executed).encode())


# --- attestations ---------------------------------------------------------------------------------------

def sign_attestation(message: bytes, attester_keys: list[bytes]) -> bytes:
    """What Circle's attesters produce: each signs keccak256(message) (no Ethereum prefix); the 65-byte signatures
    are concatenated in increasing order of the attester's address."""
    digest = keccak(message)
    signed = sorted(((Account.from_key(key).address.lower(), Account.unsafe_sign_hash(digest, key).signature)
                     for key in attester_keys), key=lambda pair: int(pair[0], 16))
    return b"".join(bytes(signature) for _, signature in signed)


def attesters_of(message: bytes, attestation: bytes) -> list[str]:
    """The attester addresses (lower case) that signed, refusing what MessageTransmitterV2 refuses: a length that
    is not a multiple of 65, a high-s or bad-v signature, signers out of strictly increasing order."""
    if not attestation or len(attestation) % SIGNATURE_LENGTH:
        raise InvalidAttestation(f"an attestation is 65-byte signatures, got {len(attestation)} bytes")
    digest = keccak(message)
    signers: list[str] = []
    for start in range(0, len(attestation), SIGNATURE_LENGTH):
        signature = attestation[start:start + SIGNATURE_LENGTH]
        if int.from_bytes(signature[32:64], "big") > _HALF_ORDER:
            raise InvalidAttestation("a signature's s is in the upper half")
        if signature[64] not in (27, 28):
            raise InvalidAttestation("a signature's v is not 27 or 28")
        try:
            key = Signature(signature[:64] + bytes([signature[64] - 27])).recover_public_key_from_msg_hash(digest)
            signer = key.to_address().lower()
        except (BadSignature, ValueError) as bad:
            raise InvalidAttestation(f"a signature does not recover: {bad}") from None
        if signers and int(signer, 16) <= int(signers[-1], 16):
            raise InvalidAttestation("signers are not in increasing order (or one signed twice)")
        signers.append(signer)
    return signers


def verify_attestation(message: bytes, attestation: bytes, enabled_attesters: set[str], threshold: int) -> None:
    """Raise InvalidAttestation unless exactly `threshold` enabled attesters signed `message`."""
    signers = attesters_of(message, attestation)
    if len(signers) != threshold:
        raise InvalidAttestation(f"{len(signers)} signatures, the threshold is {threshold}")
    unknown = [s for s in signers if s not in {a.lower() for a in enabled_attesters}]
    if unknown:
        raise InvalidAttestation(f"not an enabled attester: {unknown[0]}")
