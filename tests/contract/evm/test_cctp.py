"""CCTP V2 calls on Arbitrum: calldata bytes and selectors as TokenMessengerV2 / MessageTransmitterV2 decode them
(circlefin/evm-cctp-contracts src/v2), and the signing policy (dnbot.security.evm_validator) accepting exactly
dnbot's own transfers between the user's wallets; a receive the node refuses is typed by its revert reason (an
expired Fast message is MessageExpired)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_utils.crypto import keccak
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from dnbot.adapters.evm.arbitrum import ArbitrumClient
from dnbot.adapters.evm.cctp import (
    ArbitrumCctp,
    NonceAlreadyUsed,
    approve_calldata,
    deposit_for_burn_calldata,
    receive_message_calldata,
)
from dnbot.adapters.evm.signer import LocalEvmSigner
from dnbot.cctp import (
    ARBITRUM_DOMAIN,
    ARBITRUM_MESSAGE_TRANSMITTER_V2,
    ARBITRUM_TOKEN_MESSENGER_V2,
    ARBITRUM_USDC,
    SOLANA_DOMAIN,
    SOLANA_TOKEN_MESSENGER_MINTER_V2,
    SOLANA_USDC_MINT,
)
from dnbot.cctp.message import BurnBody, CctpMessage, evm_to_bytes32, solana_to_bytes32
from dnbot.ports import MessageExpired, VenueRejected
from dnbot.security.evm_validator import solana_usdc_account, validate_evm_transaction
from dnbot.security.transaction_validator import TransactionRefusedError

USER = Account.from_key(b"\x42" * 32)
SOLANA_WALLET = str(Keypair.from_seed(b"\x24" * 32).pubkey())
ATA = solana_usdc_account(SOLANA_WALLET)
BASE: dict[str, Any] = {"chainId": 42161, "nonce": 3, "value": 0, "gas": 300_000, "maxFeePerGas": 20_000_000,
                        "maxPriorityFeePerGas": 0, "type": 2, "from": USER.address}


def test_selectors_are_the_contracts_signatures() -> None:
    assert keccak(text="depositForBurn(uint256,uint32,bytes32,address,bytes32,uint256,uint32)")[:4].hex() == "8e0250ee"
    assert keccak(text="receiveMessage(bytes,bytes)")[:4].hex() == "57ecfd28"
    assert keccak(text="approve(address,uint256)")[:4].hex() == "095ea7b3"


def test_the_solana_usdc_account_is_the_associated_token_account() -> None:
    # spl-associated-token-account: PDA of [owner, token program, mint] under the ATA program
    ata_program = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
    token_program = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
    expected, _ = Pubkey.find_program_address(
        [bytes(Pubkey.from_string(SOLANA_WALLET)), bytes(token_program), bytes(Pubkey.from_string(SOLANA_USDC_MINT))],
        ata_program)
    assert bytes(expected) == ATA


def test_calldata_bytes() -> None:
    burn = deposit_for_burn_calldata(12_345_678, ATA, 2_470, 1000)
    assert burn[:4].hex() == "8e0250ee" and len(burn) == 4 + 7 * 32
    words = [burn[4 + 32 * i: 36 + 32 * i] for i in range(7)]
    assert int.from_bytes(words[0], "big") == 12_345_678
    assert int.from_bytes(words[1], "big") == 5  # Solana
    assert words[2] == ATA
    assert words[3] == bytes(12) + bytes.fromhex(ARBITRUM_USDC[2:])
    assert words[4] == bytes(32)
    assert int.from_bytes(words[5], "big") == 2_470 and int.from_bytes(words[6], "big") == 1000

    approve = approve_calldata(ARBITRUM_TOKEN_MESSENGER_V2, 12_345_678)
    assert approve == (bytes.fromhex("095ea7b3") + bytes(12) + bytes.fromhex(ARBITRUM_TOKEN_MESSENGER_V2[2:])
                       + (12_345_678).to_bytes(32, "big"))

    receive = receive_message_calldata(b"\x01" * 250, b"\x02" * 130)
    assert receive[:4].hex() == "57ecfd28"
    assert int.from_bytes(receive[4:36], "big") == 64 and int.from_bytes(receive[36:68], "big") == 64 + 32 + 256
    assert int.from_bytes(receive[68:100], "big") == 250 and receive[100:350] == b"\x01" * 250
    assert int.from_bytes(receive[356:388], "big") == 130 and receive[388:518] == b"\x02" * 130


def _tx(to: str, data: bytes, **changes: Any) -> dict[str, Any]:
    return {**BASE, "to": to, "data": "0x" + data.hex(), **changes}


def _solana_to_arbitrum(mint_recipient: bytes, **changes: Any) -> bytes:
    body = BurnBody(burn_token=solana_to_bytes32(SOLANA_USDC_MINT), mint_recipient=mint_recipient,
                    amount=5_000_000, message_sender=solana_to_bytes32(SOLANA_WALLET), max_fee=600)
    message = CctpMessage(source_domain=SOLANA_DOMAIN, destination_domain=ARBITRUM_DOMAIN,
                          sender=solana_to_bytes32(SOLANA_TOKEN_MESSENGER_MINTER_V2),
                          recipient=evm_to_bytes32(ARBITRUM_TOKEN_MESSENGER_V2), destination_caller=bytes(32),
                          min_finality_threshold=1000, body=body.encode(), nonce=b"\x07" * 32,
                          finality_threshold_executed=1000)
    return replace(message, **changes).encode()


def _ours() -> list[dict[str, Any]]:
    return [
        _tx(ARBITRUM_USDC, approve_calldata(ARBITRUM_TOKEN_MESSENGER_V2, 100_000_000)),
        _tx(ARBITRUM_TOKEN_MESSENGER_V2, deposit_for_burn_calldata(100_000_000, ATA, 200_000, 1000)),  # 0.2 %: the cap
        _tx(ARBITRUM_TOKEN_MESSENGER_V2, deposit_for_burn_calldata(100_000_000, ATA, 0, 2000)),
        _tx(ARBITRUM_MESSAGE_TRANSMITTER_V2,
            receive_message_calldata(_solana_to_arbitrum(evm_to_bytes32(USER.address)), b"\x01" * 130)),
    ]


def test_the_validator_accepts_dnbots_own_cctp_calls_and_the_signer_signs_them() -> None:
    for transaction in _ours():
        validate_evm_transaction(transaction, USER.address, SOLANA_WALLET)
    signer = LocalEvmSigner({"u": USER}, {"u": SOLANA_WALLET})
    for transaction in _ours():
        assert Account.recover_transaction(signer.sign_transaction("u", transaction)) == USER.address


STRANGER_ATA = solana_usdc_account(str(Keypair.from_seed(b"\x99" * 32).pubkey()))
STRANGER_EVM = "0x" + "13" * 20


@pytest.mark.parametrize(("transaction", "reason"), [
    (_tx(ARBITRUM_TOKEN_MESSENGER_V2, deposit_for_burn_calldata(100_000_000, STRANGER_ATA, 0, 1000)),
     "not the user's USDC account"),
    (_tx(ARBITRUM_TOKEN_MESSENGER_V2, deposit_for_burn_calldata(100_000_000, solana_to_bytes32(SOLANA_WALLET), 0,
                                                                1000)),
     "not the user's USDC account"),  # the wallet itself, not its token account: Solana would refuse the mint
    (_tx(ARBITRUM_TOKEN_MESSENGER_V2, deposit_for_burn_calldata(100_000_000, ATA, 0, 1000,
                                                                destination_caller=b"\x01" * 32)),
     "destination caller"),
    (_tx(ARBITRUM_TOKEN_MESSENGER_V2, deposit_for_burn_calldata(100_000_000, ATA, 200_001, 1000)), "over the"),
    (_tx(ARBITRUM_TOKEN_MESSENGER_V2, deposit_for_burn_calldata(0, ATA, 0, 1000)), "burns nothing"),
    (_tx(ARBITRUM_TOKEN_MESSENGER_V2, deposit_for_burn_calldata(100_000_000, ATA, 0, 1000, destination_domain=0)),
     "not Solana"),
    (_tx(ARBITRUM_TOKEN_MESSENGER_V2, deposit_for_burn_calldata(100_000_000, ATA, 0, 1000,
                                                                burn_token="0x" + "44" * 20)),
     "not Arbitrum's USDC"),
    (_tx(ARBITRUM_TOKEN_MESSENGER_V2, bytes.fromhex("deadbeef") + bytes(7 * 32)), "other than depositForBurn"),
    (_tx(ARBITRUM_USDC, approve_calldata(STRANGER_EVM, 100_000_000)), "not CCTP's TokenMessengerV2"),
    (_tx(ARBITRUM_USDC, approve_calldata(STRANGER_EVM, 2**256 - 1)), "not CCTP's TokenMessengerV2"),
    (_tx(ARBITRUM_USDC, approve_calldata(ARBITRUM_TOKEN_MESSENGER_V2, 2**256 - 1)), "unlimited"),
    (_tx(ARBITRUM_MESSAGE_TRANSMITTER_V2,
         receive_message_calldata(_solana_to_arbitrum(evm_to_bytes32(STRANGER_EVM)), b"\x01" * 65)),
     "not the user's wallet"),
    (_tx(ARBITRUM_MESSAGE_TRANSMITTER_V2,
         receive_message_calldata(_solana_to_arbitrum(evm_to_bytes32(USER.address), destination_domain=0),
                                  b"\x01" * 65)),
     "not Arbitrum"),
    (_tx(ARBITRUM_MESSAGE_TRANSMITTER_V2,
         receive_message_calldata(_solana_to_arbitrum(evm_to_bytes32(USER.address),
                                                      recipient=evm_to_bytes32(STRANGER_EVM)), b"\x01" * 65)),
     "not Arbitrum's TokenMessengerV2"),
    (_tx(ARBITRUM_MESSAGE_TRANSMITTER_V2, receive_message_calldata(b"\x01" * 100, b"\x01" * 65)),
     "not a CCTP burn message"),
    (_tx(ARBITRUM_MESSAGE_TRANSMITTER_V2, bytes.fromhex("feb61724") + bytes(32)), "other than receiveMessage"),
    (_tx("0x" + "55" * 20, deposit_for_burn_calldata(100_000_000, ATA, 0, 1000)), "a contract other than"),
    (_tx(ARBITRUM_TOKEN_MESSENGER_V2, deposit_for_burn_calldata(100_000_000, ATA, 0, 1000), chainId=1),
     "not Arbitrum One"),
    (_tx(ARBITRUM_TOKEN_MESSENGER_V2, deposit_for_burn_calldata(100_000_000, ATA, 0, 1000), value=1), "sends ETH"),
])
def test_the_validator_refuses_tampered_calls(transaction: dict[str, Any], reason: str) -> None:
    with pytest.raises(TransactionRefusedError, match=reason):
        validate_evm_transaction(transaction, USER.address, SOLANA_WALLET)
    with pytest.raises(TransactionRefusedError, match=reason):
        LocalEvmSigner({"u": USER}, {"u": SOLANA_WALLET}).sign_transaction("u", transaction)


def test_a_burn_is_refused_when_the_users_solana_wallet_is_unknown() -> None:
    burn = _tx(ARBITRUM_TOKEN_MESSENGER_V2, deposit_for_burn_calldata(100_000_000, ATA, 0, 1000))
    with pytest.raises(TransactionRefusedError, match="Solana wallet is unknown"):
        validate_evm_transaction(burn, USER.address)
    with pytest.raises(TransactionRefusedError, match="Solana wallet is unknown"):
        LocalEvmSigner({"u": USER}).sign_transaction("u", burn)
    with pytest.raises(TransactionRefusedError, match="not the user's USDC account"):
        LocalEvmSigner({"u": USER}, {"u": str(Keypair.from_seed(b"\x99" * 32).pubkey())}).sign_transaction("u", burn)


# --- the node's answer to a receive of an expired Fast message ---------------------------------------------------

def _node_refusing_the_receive(reason: str) -> httpx.MockTransport:
    """An Arbitrum node whose eth_estimateGas of receiveMessage reverts with `reason` (Solidity Error(string))."""
    revert = "0x08c379a0" + abi_encode(["string"], [reason]).hex()

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["method"] == "eth_estimateGas" and body["params"][0]["to"] == ARBITRUM_MESSAGE_TRANSMITTER_V2
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "error": {
            "code": 3, "message": f"execution reverted: {reason}", "data": revert}})

    return httpx.MockTransport(answer)


@pytest.mark.parametrize(("reason", "error"), [
    ("Message expired and must be re-signed", MessageExpired),  # TokenMessengerV2._validatedReceivedMessage
    ("Nonce already used", NonceAlreadyUsed),
    ("Invalid signature: not enough signatures", VenueRejected),
])
def test_a_receive_refused_by_the_node_is_typed_by_its_revert_reason(reason: str, error: type[Exception]) -> None:
    cctp = ArbitrumCctp(ArbitrumClient("http://arbitrum.test", transport=_node_refusing_the_receive(reason)),
                        LocalEvmSigner({"u1": USER}))
    with pytest.raises(error, match=reason) as raised:
        cctp.sign_receive("u1", USER.address, b"\x00" * 148, b"\x01" * 130)
    assert (raised.type is MessageExpired) == (reason.startswith("Message expired"))
