"""The CCTP V2 codec: field offsets as MessageV2.sol / BurnMessageV2.sol lay them out, and attestations as
MessageTransmitterV2 checks them."""

from __future__ import annotations

import pytest
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from dnbot.cctp import (
    ARBITRUM_DOMAIN,
    ARBITRUM_TOKEN_MESSENGER_V2,
    ARBITRUM_USDC,
    SOLANA_DOMAIN,
    SOLANA_TOKEN_MESSENGER_MINTER_V2,
    SOLANA_USDC_MINT,
)
from dnbot.cctp.message import (
    BurnBody,
    CctpMessage,
    InvalidAttestation,
    MalformedMessage,
    bytes32_to_evm,
    bytes32_to_solana,
    evm_to_bytes32,
    sign_attestation,
    solana_to_bytes32,
    verify_attestation,
)

KEYS = [bytes([7]) * 32, bytes([9]) * 32]
ATTESTERS = {Account.from_key(k).address for k in KEYS}
bytes32 = st.binary(min_size=32, max_size=32)
uint256 = st.integers(min_value=0, max_value=2**256 - 1)


def _arbitrum_to_solana(amount: int = 1_000_000) -> CctpMessage:
    body = BurnBody(burn_token=evm_to_bytes32(ARBITRUM_USDC), mint_recipient=solana_to_bytes32(SOLANA_USDC_MINT),
                    amount=amount, message_sender=evm_to_bytes32("0x" + "11" * 20), max_fee=200)
    return CctpMessage(source_domain=ARBITRUM_DOMAIN, destination_domain=SOLANA_DOMAIN,
                       sender=evm_to_bytes32(ARBITRUM_TOKEN_MESSENGER_V2),
                       recipient=solana_to_bytes32(SOLANA_TOKEN_MESSENGER_MINTER_V2), destination_caller=bytes(32),
                       min_finality_threshold=1000, body=body.encode())


def test_fields_sit_at_the_documented_offsets() -> None:
    raw = _arbitrum_to_solana(amount=123_456).attested(b"\x05" * 32, 1000, 12).encode()
    assert raw[0:4] == (1).to_bytes(4, "big") and raw[4:8] == (3).to_bytes(4, "big")
    assert raw[8:12] == (5).to_bytes(4, "big") and raw[12:44] == b"\x05" * 32
    assert raw[140:144] == (1000).to_bytes(4, "big") and raw[144:148] == (1000).to_bytes(4, "big")
    body = raw[148:]
    assert body[68:100] == (123_456).to_bytes(32, "big") and body[164:196] == (12).to_bytes(32, "big")
    assert len(body) == 228


@given(bytes32, bytes32, uint256, bytes32, uint256, uint256, uint256, st.binary(max_size=40))
def test_a_burn_body_round_trips(token: bytes, recipient: bytes, amount: int, sender: bytes, max_fee: int,
                                 fee: int, expiry: int, hook: bytes) -> None:
    body = BurnBody(token, recipient, amount, sender, max_fee, fee, expiry, hook)
    assert BurnBody.decode(body.encode()) == body


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), bytes32, bytes32, bytes32, bytes32,
       st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.binary(max_size=300))
def test_a_message_round_trips(source: int, destination: int, nonce: bytes, sender: bytes, recipient: bytes,
                               caller: bytes, minimum: int, executed: int, body: bytes) -> None:
    message = CctpMessage(source, destination, sender, recipient, caller, minimum, body, nonce, executed)
    assert CctpMessage.decode(message.encode()) == message


def test_short_bytes_are_refused() -> None:
    with pytest.raises(MalformedMessage):
        CctpMessage.decode(bytes(147))
    with pytest.raises(MalformedMessage):
        BurnBody.decode(bytes(227))


def test_addresses_in_32_bytes() -> None:
    assert bytes32_to_evm(evm_to_bytes32(ARBITRUM_USDC)) == ARBITRUM_USDC
    assert bytes32_to_solana(solana_to_bytes32(SOLANA_USDC_MINT)) == SOLANA_USDC_MINT
    with pytest.raises(ValueError):
        bytes32_to_evm(b"\x01" * 32)


def test_an_attestation_verifies_and_any_change_is_refused() -> None:
    raw = _arbitrum_to_solana().attested(b"\x01" * 32, 1000, 100).encode()
    attestation = sign_attestation(raw, KEYS)
    verify_attestation(raw, attestation, ATTESTERS, 2)
    tampered = raw[:-228 + 68] + (10**12).to_bytes(32, "big") + raw[-228 + 100:]  # a bigger amount
    with pytest.raises(InvalidAttestation):
        verify_attestation(tampered, attestation, ATTESTERS, 2)
    with pytest.raises(InvalidAttestation, match="threshold"):
        verify_attestation(raw, attestation[:65], ATTESTERS, 2)
    with pytest.raises(InvalidAttestation, match="increasing"):
        verify_attestation(raw, attestation[65:] + attestation[:65], ATTESTERS, 2)
    with pytest.raises(InvalidAttestation, match="enabled"):
        verify_attestation(raw, sign_attestation(raw, [KEYS[0], bytes([8]) * 32]), ATTESTERS, 2)
