"""CCTP V2 on Solana: PDAs, instruction bytes and account order (docs/bridge.md sections 1-3), and the signing
policy on them: our burn and receive pass, a tampered one is refused before anything is signed; a receive the node
refuses as expired (MessageExpired) is typed as such."""

from __future__ import annotations

import base64
import hashlib
import json
import struct

import httpx
import pytest
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from spl.token.instructions import create_idempotent_associated_token_account

from dnbot.adapters.solana.cctp import SolanaCctp
from dnbot.adapters.solana.rpc import SolanaRpc
from dnbot.cctp import ARBITRUM_TOKEN_MESSENGER_V2, ARBITRUM_USDC
from dnbot.cctp import solana as cctp
from dnbot.cctp.message import BurnBody, CctpMessage, evm_to_bytes32
from dnbot.ports import MessageExpired, VenueRejected
from dnbot.security.transaction_validator import SigningPolicy, TransactionRefusedError, validate_transaction

WALLET = Keypair.from_seed(hashlib.sha256(b"cctp-contract-wallet").digest()).pubkey()
EVM = "0x1111111111111111111111111111111111111111"
EVENT = Keypair.from_seed(hashlib.sha256(b"cctp-contract-event").digest()).pubkey()
FEE_ACCOUNT = cctp.usdc_account(Keypair.from_seed(hashlib.sha256(b"cctp-fee").digest()).pubkey())


def policy(evm_address: str | None = EVM) -> SigningPolicy:
    return SigningPolicy.for_wallet(WALLET, evm_address=evm_address)


def tx(*instructions: Instruction) -> str:
    message = MessageV0.try_compile(WALLET, list(instructions), [], Hash.new_unique())
    unsigned = VersionedTransaction.populate(message, [Signature.default()] * message.header.num_required_signatures)
    return base64.b64encode(bytes(unsigned)).decode()


def burn_params(**changes: object) -> cctp.DepositForBurnParams:
    values: dict[str, object] = {"amount": 10_000_000, "destination_domain": 3, "mint_recipient": evm_to_bytes32(EVM),
                                 "destination_caller": bytes(32), "max_fee": 2_000, "min_finality_threshold": 1000}
    values.update(changes)
    return cctp.DepositForBurnParams(**values)  # type: ignore[arg-type]


def inbound_message(amount: int = 5_000_000, recipient: Pubkey | None = None, destination: int = 5) -> bytes:
    body = BurnBody(burn_token=evm_to_bytes32(ARBITRUM_USDC),
                    mint_recipient=bytes(recipient or cctp.usdc_account(WALLET)), amount=amount,
                    message_sender=evm_to_bytes32(EVM), max_fee=1_000, fee_executed=500)
    return CctpMessage(source_domain=3, destination_domain=destination,
                       sender=evm_to_bytes32(ARBITRUM_TOKEN_MESSENGER_V2), recipient=bytes(cctp.TOKEN_MESSENGER_MINTER),
                       destination_caller=bytes(32), min_finality_threshold=1000, body=body.encode(),
                       nonce=hashlib.sha256(b"nonce").digest(), finality_threshold_executed=1000).encode()


# --- addresses and bytes ------------------------------------------------------------------------------------

def test_pdas_are_mainnets() -> None:
    # Derived with solders from the programs' seeds; the same values are in third-party CCTP V2 clients.
    assert str(cctp.TOKEN_MESSENGER) == "AawthJCGRmggpfv9MMWV6Jmo9cue4gL9wUZgRBShg58W"
    assert str(cctp.TOKEN_MINTER) == "E1bQJ8eMMn3zmeSewW3HQ8zmJr7KR75JonbwAtWx2bux"
    assert str(cctp.LOCAL_TOKEN_USDC) == "CRBBbuLCyrkQy4dCTHxqstSmDQv4ajBeUVb9qUdMVaP1"
    assert str(cctp.remote_token_messenger(3)) == "53NSDvEXmUixWSsCQF5rnTxcKdihq19WXNaZFXrX3ojf"
    assert str(cctp.SENDER_AUTHORITY) == "45hzrGLQ2EGo1Ln7QpXjDwb589GDQ9H2aEXXw6ds6BFE"
    assert str(cctp.CUSTODY_USDC) == "6xTBTqJMBr5m7BKqVxmW2x11DfqUwtD3TJsqpxELx72L"
    assert str(cctp.TMM_EVENT_AUTHORITY) == "6TCCnJ9R1m1RXFzyoH7GYH2J6NJDtZaUvfipPuLWxHNd"
    assert str(cctp.MESSAGE_TRANSMITTER_STATE) == "W1k5ijkaSTo5iA5zChNpfzcy796fLhkBxfmJuR8W8HU"
    assert str(cctp.MT_EVENT_AUTHORITY) == "2PcXTomVAbX5Es1NUZUkxwuCm8tvV4NmRk3fmQWFCWoV"
    assert str(cctp.MT_AUTHORITY_FOR_TMM) == "DsAdX23SVpTPYhKP2ua1mx8gTPqLyzx7a43cyxYjS2up"
    assert str(cctp.token_pair(3, evm_to_bytes32(ARBITRUM_USDC))) == "pUDNiGnQsosQMDmiN1cHUbMnH8JYBB7mEkAbxJ1yeg9"
    # the 32-byte nonce is the seed: the same nonce, the same account
    assert cctp.used_nonce(b"\x01" * 32) == Pubkey.find_program_address(
        [b"used_nonce", b"\x01" * 32], cctp.MESSAGE_TRANSMITTER)[0]
    with pytest.raises(ValueError):
        cctp.used_nonce(b"\x01" * 31)


def test_deposit_for_burn_bytes_and_accounts() -> None:
    ix = cctp.deposit_for_burn_ix(WALLET, EVENT, burn_params())
    assert ix.program_id == cctp.TOKEN_MESSENGER_MINTER
    assert ix.data.hex() == (
        "d73c3d2e723780b0"  # sha256("global:deposit_for_burn")[:8]
        + "8096980000000000" + "03000000" + evm_to_bytes32(EVM).hex() + "00" * 32 + "d007000000000000" + "e8030000")
    assert len(ix.data) == 8 + 88  # u64 + u32 + 32 + 32 + u64 + u32 (docs/bridge.md says 96: it is 88)
    assert cctp.DepositForBurnParams.decode(bytes(ix.data)) == burn_params()
    expected = [
        (WALLET, True, False), (WALLET, True, True), (cctp.SENDER_AUTHORITY, False, False),
        (cctp.usdc_account(WALLET), False, True), (cctp.denylist_account(WALLET), False, False),
        (cctp.MESSAGE_TRANSMITTER_STATE, False, True), (cctp.TOKEN_MESSENGER, False, False),
        (cctp.remote_token_messenger(3), False, False), (cctp.TOKEN_MINTER, False, False),
        (cctp.LOCAL_TOKEN_USDC, False, True), (cctp.USDC_MINT, False, True), (EVENT, True, True),
        (cctp.MESSAGE_TRANSMITTER, False, False), (cctp.TOKEN_MESSENGER_MINTER, False, False),
        (cctp.TOKEN_PROGRAM, False, False), (cctp.SYSTEM_PROGRAM, False, False),
        (cctp.TMM_EVENT_AUTHORITY, False, False), (cctp.TOKEN_MESSENGER_MINTER, False, False)]
    assert [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts] == expected


def test_receive_message_bytes_and_accounts_follow_the_message() -> None:
    message, attestation = inbound_message(), b"\x07" * 130
    ix = cctp.receive_message_ix(WALLET, message, attestation, FEE_ACCOUNT)
    assert ix.program_id == cctp.MESSAGE_TRANSMITTER
    assert bytes(ix.data) == (bytes.fromhex("26907fe11fe1ee19") + struct.pack("<I", len(message)) + message
                              + struct.pack("<I", 130) + attestation)
    decoded = cctp.ReceiveMessageParams.decode(bytes(ix.data))
    assert (decoded.message, decoded.attestation) == (message, attestation)
    expected = [
        (WALLET, True, True), (WALLET, True, False), (cctp.MT_AUTHORITY_FOR_TMM, False, False),
        (cctp.MESSAGE_TRANSMITTER_STATE, False, False),
        (cctp.used_nonce(hashlib.sha256(b"nonce").digest()), False, True),
        (cctp.TOKEN_MESSENGER_MINTER, False, False), (cctp.SYSTEM_PROGRAM, False, False),
        (cctp.MT_EVENT_AUTHORITY, False, False), (cctp.MESSAGE_TRANSMITTER, False, False),
        (cctp.TOKEN_MESSENGER, False, False), (cctp.remote_token_messenger(3), False, False),
        (cctp.TOKEN_MINTER, False, True), (cctp.LOCAL_TOKEN_USDC, False, True),
        (cctp.token_pair(3, evm_to_bytes32(ARBITRUM_USDC)), False, False), (FEE_ACCOUNT, False, True),
        (cctp.usdc_account(WALLET), False, True), (cctp.CUSTODY_USDC, False, True),
        (cctp.TOKEN_PROGRAM, False, False), (cctp.TMM_EVENT_AUTHORITY, False, False),
        (cctp.TOKEN_MESSENGER_MINTER, False, False)]
    assert [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts] == expected
    with pytest.raises(ValueError):
        cctp.ReceiveMessageParams.decode(bytes(ix.data)[:-1])  # a truncated attestation


def test_token_messenger_account_layout() -> None:
    # 177 bytes on mainnet: 8 (discriminator) + 3 x 32 + 4 + 1 + 2 x 32 + 4
    fee_recipient = Pubkey.from_string("4BPnUzFDibVcWQ5zzixGodRUHwqDxHYpUPdPYus3Bn56")
    state = cctp.TokenMessengerState(WALLET, WALLET, Pubkey.default(), 1, 254, fee_recipient, WALLET, 0)
    data = state.encode()
    assert len(data) == 177 and data[:8] == hashlib.sha256(b"account:TokenMessenger").digest()[:8]
    assert cctp.TokenMessengerState.decode(data) == state
    # the fee recipient's USDC account as third-party clients list it for mainnet
    assert str(state.fee_recipient_token_account) == "6zNSMmZGMhNyqZMHkx2L63DLuqh5qoqBhaQJPJD7Fvt3"


# --- the signing policy ---------------------------------------------------------------------------------------

def test_the_policy_accepts_our_burn_and_our_receive() -> None:
    validate_transaction(tx(cctp.deposit_for_burn_ix(WALLET, EVENT, burn_params())), policy())
    validate_transaction(tx(create_idempotent_associated_token_account(WALLET, WALLET, cctp.USDC_MINT),
                            cctp.receive_message_ix(WALLET, inbound_message(), b"\x07" * 130, FEE_ACCOUNT)),
                         policy(evm_address=None))  # a receive needs no EVM address


@pytest.mark.parametrize(("changes", "reason"), [
    ({"mint_recipient": evm_to_bytes32("0x2222222222222222222222222222222222222222")}, "not the user's EVM address"),
    ({"destination_caller": b"\x01" * 32}, "destination caller"),
    ({"max_fee": 20_001}, "over the 0.2 % cap"),
    ({"destination_domain": 0}, "not Arbitrum"),
])
def test_the_policy_refuses_a_tampered_burn(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(TransactionRefusedError, match=reason):
        validate_transaction(tx(cctp.deposit_for_burn_ix(WALLET, EVENT, burn_params(**changes))), policy())


def test_the_fee_cap_is_inclusive() -> None:  # 0.2 % of 10 USDC = 20_000 base units
    validate_transaction(tx(cctp.deposit_for_burn_ix(WALLET, EVENT, burn_params(max_fee=20_000))), policy())


def test_a_burn_needs_the_users_evm_address_in_the_policy() -> None:
    with pytest.raises(TransactionRefusedError, match="names no EVM address"):
        validate_transaction(tx(cctp.deposit_for_burn_ix(WALLET, EVENT, burn_params())), policy(evm_address=None))


def test_the_policy_refuses_burning_someone_elses_usdc_account() -> None:
    ix = cctp.deposit_for_burn_ix(WALLET, EVENT, burn_params())
    metas = list(ix.accounts)
    stranger_account = cctp.usdc_account(Keypair().pubkey())
    metas[3] = AccountMeta(stranger_account, is_signer=False, is_writable=True)
    with pytest.raises(TransactionRefusedError, match="not the user's USDC account"):
        validate_transaction(tx(Instruction(ix.program_id, ix.data, metas)), policy())


def test_the_policy_refuses_a_receive_to_another_account() -> None:
    stranger_account = cctp.usdc_account(Keypair().pubkey())
    # the message mints to a stranger (the instruction follows the message)
    with pytest.raises(TransactionRefusedError, match="not the user's USDC account"):
        validate_transaction(tx(cctp.receive_message_ix(
            WALLET, inbound_message(recipient=stranger_account), b"\x07" * 130, FEE_ACCOUNT)), policy())
    # the message is ours but the recipient account was swapped in the instruction
    ix = cctp.receive_message_ix(WALLET, inbound_message(), b"\x07" * 130, FEE_ACCOUNT)
    metas = list(ix.accounts)
    metas[15] = AccountMeta(stranger_account, is_signer=False, is_writable=True)
    with pytest.raises(TransactionRefusedError, match="not the user's USDC account"):
        validate_transaction(tx(Instruction(ix.program_id, ix.data, metas)), policy())


def test_the_policy_refuses_a_receive_for_another_program_or_chain() -> None:
    ix = cctp.receive_message_ix(WALLET, inbound_message(), b"\x07" * 130, FEE_ACCOUNT)
    metas = list(ix.accounts)
    metas[5] = AccountMeta(Keypair().pubkey(), is_signer=False, is_writable=False)
    with pytest.raises(TransactionRefusedError, match="not for TokenMessengerMinterV2"):
        validate_transaction(tx(Instruction(ix.program_id, ix.data, metas)), policy())
    with pytest.raises(TransactionRefusedError, match="not Solana"):
        validate_transaction(tx(cctp.receive_message_ix(WALLET, inbound_message(destination=6), b"\x07" * 130,
                                                        FEE_ACCOUNT)), policy())


def test_reclaim_event_account_bytes_and_policy() -> None:
    attestation, destination = b"\x07" * 130, inbound_message()
    ix = cctp.reclaim_event_account_ix(WALLET, EVENT, attestation, destination)
    assert ix.program_id == cctp.MESSAGE_TRANSMITTER
    assert bytes(ix.data) == (bytes.fromhex("5ec6b49f83ec0fae") + struct.pack("<I", 130) + attestation
                              + struct.pack("<I", len(destination)) + destination)
    assert [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts] == [
        (WALLET, True, True), (cctp.MESSAGE_TRANSMITTER_STATE, False, True), (EVENT, False, True)]
    validate_transaction(tx(ix), policy())
    stranger = Keypair().pubkey()
    theirs = cctp.reclaim_event_account_ix(stranger, EVENT, attestation, destination)
    with pytest.raises(TransactionRefusedError, match="rent for another account"):
        validate_transaction(tx(theirs), policy())


def test_source_fields_ignore_what_the_attesters_fill_in() -> None:
    source = CctpMessage.decode(inbound_message())
    attested = source.attested(b"\x05" * 32, 1000, 321).encode()
    source_bytes = CctpMessage(source.source_domain, source.destination_domain, source.sender, source.recipient,
                               source.destination_caller, source.min_finality_threshold, source.body).encode()
    assert cctp.source_fields(attested) == cctp.source_fields(source_bytes)
    other = CctpMessage(source.source_domain, source.destination_domain, source.sender, source.recipient,
                        b"\x01" * 32, source.min_finality_threshold, source.body).encode()
    assert cctp.source_fields(other) != cctp.source_fields(source_bytes)


def test_any_other_cctp_instruction_is_refused() -> None:
    reclaim = Instruction(cctp.MESSAGE_TRANSMITTER, hashlib.sha256(b"global:send_message").digest()[:8],
                          [AccountMeta(WALLET, is_signer=True, is_writable=True)])
    hook = Instruction(cctp.TOKEN_MESSENGER_MINTER, hashlib.sha256(b"global:deposit_for_burn_with_hook").digest()[:8],
                       [AccountMeta(WALLET, is_signer=True, is_writable=True)])
    for ix in (reclaim, hook):
        with pytest.raises(TransactionRefusedError, match="other than deposit_for_burn, receive_message or reclaim"):
            validate_transaction(tx(ix), policy())


def test_the_minimum_fee_follows_get_min_fee_amount() -> None:
    state = cctp.TokenMessengerState(WALLET, WALLET, Pubkey.default(), 1, 254, WALLET, WALLET, 0)
    assert state.min_fee_amount(10_000_000) == 0
    one_bp = cctp.TokenMessengerState(WALLET, WALLET, Pubkey.default(), 1, 254, WALLET, WALLET, 1_000)
    assert one_bp.min_fee_amount(10_000_000) == 1_000  # 1000 / 10^7 = 1 bp of 10 USDC
    assert one_bp.min_fee_amount(5) == 1  # never below one base unit


# --- the node's answer to a receive of an expired Fast message ---------------------------------------------------

def _node_refusing_the_send(message: str, logs: list[str]) -> httpx.MockTransport:
    """A Solana node whose preflight of the sent transaction fails (-32002, as sendTransaction reports it)."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["method"] == "sendTransaction"
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "error": {
            "code": -32002, "message": message, "data": {
                "err": {"InstructionError": [0, {"Custom": int(message.rsplit("0x", 1)[-1], 16)}]}
                if "0x" in message else None, "logs": logs, "accounts": None, "unitsConsumed": 0,
                "returnData": None}}})

    return httpx.MockTransport(answer)


@pytest.mark.parametrize(("message", "expired"), [
    # a node's own words: the failing instruction's custom error (TokenMessengerMinterV2 MessageExpired = 6016)
    ("Transaction simulation failed: Error processing Instruction 0: custom program error: 0x1780", True),
    # the simulator's, which names the Anchor error as the program's log does
    ("Transaction simulation failed: AnchorError: Error Code: MessageExpired. Error Number: 6016.", True),
    ("Transaction simulation failed: Error processing Instruction 0: custom program error: 0x1781", False),
    ("Transaction simulation failed: Blockhash not found", False),
])
def test_a_receive_refused_as_expired_is_message_expired(message: str, expired: bool) -> None:
    logs = ["Program CCTPV2vPZJS2u2BBsUoscuikbYjnpFmbFsvVuJdgUMQe invoke [1]", message]
    cctp_on_solana = SolanaCctp(SolanaRpc("http://solana.test", transport=_node_refusing_the_send(message, logs)),
                                lambda: None)  # type: ignore[arg-type,return-value]  # send needs no wallet
    with pytest.raises(VenueRejected, match="Transaction simulation failed") as raised:
        cctp_on_solana.send(tx(create_idempotent_associated_token_account(WALLET, WALLET, cctp.USDC_MINT)))
    assert (raised.type is MessageExpired) == expired
