"""CCTP V2 on the simulated Arbitrum node through the adapter (dnbot.adapters.evm.cctp.ArbitrumCctp): a burn to
Solana (exact approve, depositForBurn, MessageSent, the attesters' message), a mint from Solana (attested by the
simulated attesters, minted less the Fast fee, once per nonce) and what reverts as the contracts revert."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
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
from dnbot.cctp.message import BurnBody, CctpMessage, evm_to_bytes32, sign_attestation, solana_to_bytes32
from dnbot.ports import ArbitrumCctpPort, VenueRejected
from dnbot.security.evm_validator import solana_usdc_account
from dnbot.security.transaction_validator import TransactionRefusedError
from dnbot.sim.arbitrum import GAS_PRICE_WEI, ledger_for
from dnbot.sim.cctp import hub_for
from dnbot.sim.server import RunningSim, start_in_thread
from dnbot.sim.world import SimWorld

START = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSim]:
    running = start_in_thread(world=SimWorld.create(start=START, speed=0))
    yield running
    running.stop()


def _user(sim: RunningSim, usdc: str) -> tuple[LocalAccount, str, ArbitrumCctp, ArbitrumClient]:
    account: LocalAccount = Account.create()
    solana_wallet = str(Keypair().pubkey())
    httpx.post(f"{sim.base_url}/sim/arbitrum/fund", json={"address": account.address, "usdc": usdc, "eth": "0.01"})
    client = ArbitrumClient(f"{sim.base_url}/arbitrum")
    cctp = ArbitrumCctp(client, LocalEvmSigner({"u": account}, {"u": solana_wallet}))
    port: ArbitrumCctpPort = cctp  # mypy: the adapter implements the port
    assert port is cctp
    return account, solana_wallet, cctp, client


def _signed_raw(account: LocalAccount, nonce: int, to: str, data: bytes) -> str:
    """A transaction signed without dnbot's validator (a relayer, or a tampered call the chain must refuse)."""
    transaction: dict[str, Any] = {"chainId": 42161, "nonce": nonce, "to": to, "value": 0, "data": data,
                                   "gas": 300_000, "maxFeePerGas": 20_000_000, "maxPriorityFeePerGas": 0, "type": 2}
    return "0x" + bytes(account.sign_transaction(transaction).raw_transaction).hex()


def _ata(solana_wallet: str) -> str:
    return str(Pubkey.from_bytes(solana_usdc_account(solana_wallet)))


def test_a_burn_to_solana_debits_the_usdc_and_reaches_the_attesters(sim: RunningSim) -> None:
    account, solana_wallet, cctp, client = _user(sim, "100")
    eth_before = client.eth_balance(account.address)
    assert cctp.allowance(account.address) == 0
    burn = cctp.sign_burn("u", account.address, 40_000_000, _ata(solana_wallet), 8_000, 1000)
    assert burn.approve_raw is not None and (burn.approve_nonce, burn.burn_nonce) == (0, 1)
    assert cctp.receipt_status(burn.burn_hash) == "unknown"
    assert [cctp.send(raw) for raw in burn.raws()] == [burn.approve_hash, burn.burn_hash]
    assert cctp.receipt_status(burn.approve_hash or "") == "landed" and cctp.receipt_status(burn.burn_hash) == "landed"
    assert client.usdc_balance(account.address) == Decimal(60)
    assert cctp.allowance(account.address) == 0  # the exact amount was approved, and spent
    spent = (55_000 + 160_000) * GAS_PRICE_WEI
    assert client.eth_balance(account.address) == eth_before - Decimal(spent).scaleb(-18)

    emitted = cctp.burn_message(burn.burn_hash)
    assert emitted is not None
    message = CctpMessage.decode(emitted)
    assert (message.source_domain, message.destination_domain, message.nonce) == (3, 5, bytes(32))
    assert message.sender == evm_to_bytes32(ARBITRUM_TOKEN_MESSENGER_V2)
    assert message.recipient == solana_to_bytes32(SOLANA_TOKEN_MESSENGER_MINTER_V2)
    assert message.destination_caller == bytes(32) and message.min_finality_threshold == 1000
    body = message.burn
    assert body.burn_token == evm_to_bytes32(ARBITRUM_USDC)
    assert body.mint_recipient == solana_usdc_account(solana_wallet)
    assert (body.amount, body.max_fee, body.fee_executed) == (40_000_000, 8_000, 0)
    assert body.message_sender == evm_to_bytes32(account.address)

    hub = hub_for(sim.world)
    [pending] = hub.messages(ARBITRUM_DOMAIN, burn.burn_hash)
    assert pending.message == message and pending.attestation is None
    sim.world.clock.advance(timedelta(seconds=8))
    [attested] = hub.messages(ARBITRUM_DOMAIN, burn.burn_hash.upper().replace("0X", "0x"))
    assert attested.attested is not None and attested.attestation is not None
    assert attested.attested.nonce != bytes(32) and attested.attested.burn.fee_executed == 4_000  # 1 bp
    assert hub.verify(attested.attested.encode(), attested.attestation) == attested.attested

    # resending the same bytes is harmless: nothing burns twice
    assert cctp.send(burn.burn_raw) == burn.burn_hash and cctp.send(burn.approve_raw) == burn.approve_hash
    assert client.usdc_balance(account.address) == Decimal(60)
    assert len(hub.messages(ARBITRUM_DOMAIN, burn.burn_hash)) == 1


def test_the_approve_is_skipped_when_the_allowance_covers_the_burn(sim: RunningSim) -> None:
    account, solana_wallet, cctp, client = _user(sim, "30")
    first = cctp.sign_burn("u", account.address, 20_000_000, _ata(solana_wallet), 4_000, 1000)
    assert first.approve_raw is not None
    cctp.send(first.approve_raw)  # only the approve lands
    assert cctp.allowance(account.address) == 20_000_000
    second = cctp.sign_burn("u", account.address, 20_000_000, _ata(solana_wallet), 4_000, 2000)
    assert second.approve_raw is None and second.raws() == [second.burn_raw] and second.burn_nonce == 1
    assert second.encode() and cctp.decode_burn(second.encode()) == second
    cctp.send(second.burn_raw)
    assert cctp.receipt_status(second.burn_hash) == "landed"
    assert client.usdc_balance(account.address) == Decimal(10)
    # the first burn's nonce is taken: its bytes can never land
    with pytest.raises(VenueRejected, match="nonce too low"):
        cctp.send(first.burn_raw)
    with pytest.raises(VenueRejected, match="less than"):
        cctp.sign_burn("u", account.address, 20_000_000, _ata(solana_wallet), 4_000, 1000)


def test_a_mint_from_solana_lands_once_less_the_fast_fee(sim: RunningSim) -> None:
    account, solana_wallet, cctp, client = _user(sim, "1")
    body = BurnBody(burn_token=solana_to_bytes32(SOLANA_USDC_MINT), mint_recipient=evm_to_bytes32(account.address),
                    amount=25_000_000, message_sender=solana_to_bytes32(solana_wallet), max_fee=5_000)
    sent = CctpMessage(source_domain=SOLANA_DOMAIN, destination_domain=ARBITRUM_DOMAIN,
                       sender=solana_to_bytes32(SOLANA_TOKEN_MESSENGER_MINTER_V2),
                       recipient=evm_to_bytes32(ARBITRUM_TOKEN_MESSENGER_V2), destination_caller=bytes(32),
                       min_finality_threshold=1000, body=body.encode())
    hub = hub_for(sim.world)
    signature = f"sig-{account.address}"
    hub.burned(SOLANA_DOMAIN, signature, sent.encode())
    sim.world.clock.advance(timedelta(seconds=8))
    [burn] = hub.messages(SOLANA_DOMAIN, signature)
    assert burn.attested is not None and burn.attestation is not None
    message, attestation = burn.attested.encode(), burn.attestation
    assert burn.attested.burn.fee_executed == 2_500  # 1 bp of 25 USDC
    assert not cctp.nonce_used(burn.attested.nonce)

    tampered = attestation[:10] + bytes([attestation[10] ^ 1]) + attestation[11:]
    with pytest.raises(VenueRejected, match="Invalid signature"):
        cctp.sign_receive("u", account.address, message, tampered)  # the node's estimate runs the call
    forced = client.sign_call("u", account.address, ARBITRUM_MESSAGE_TRANSMITTER_V2,
                              receive_message_calldata(message, tampered), LocalEvmSigner({"u": account}),
                              gas=300_000)
    assert cctp.receipt_status(cctp.send(forced.raw)) == "failed"
    assert client.usdc_balance(account.address) == Decimal(1) and not cctp.nonce_used(burn.attested.nonce)
    unattested = burn.message.encode()  # the source chain's copy (empty nonce): never what the attesters signed
    with pytest.raises(VenueRejected, match="Invalid signature"):
        cctp.sign_receive("u", account.address, unattested, attestation)

    first = cctp.sign_receive("u", account.address, message, attestation)
    again = cctp.sign_receive("u", account.address, message, attestation, nonce=first.nonce + 1)
    assert cctp.receipt_status(cctp.send(first.raw)) == "landed"
    assert client.usdc_balance(account.address) == Decimal(1) + Decimal("24.9975")
    assert cctp.nonce_used(burn.attested.nonce)
    assert cctp.receipt_status(cctp.send(again.raw)) == "failed"
    assert ledger_for(sim.world).revert_reasons[again.tx_hash] == "Nonce already used"
    assert client.usdc_balance(account.address) == Decimal("25.9975")
    with pytest.raises(NonceAlreadyUsed):
        cctp.sign_receive("u", account.address, message, attestation)
    assert cctp.send(first.raw) == first.tx_hash  # a resend of the landed mint is recognised, mints nothing
    assert client.usdc_balance(account.address) == Decimal("25.9975")


def test_a_mint_to_someone_else_or_to_another_domain_is_refused_or_reverts(sim: RunningSim) -> None:
    account, _, cctp, client = _user(sim, "0")
    stranger = "0x" + "21" * 20
    body = BurnBody(burn_token=solana_to_bytes32(SOLANA_USDC_MINT), mint_recipient=evm_to_bytes32(stranger),
                    amount=9_000_000, message_sender=bytes(32), max_fee=0)
    sent = CctpMessage(source_domain=SOLANA_DOMAIN, destination_domain=ARBITRUM_DOMAIN,
                       sender=solana_to_bytes32(SOLANA_TOKEN_MESSENGER_MINTER_V2),
                       recipient=evm_to_bytes32(ARBITRUM_TOKEN_MESSENGER_V2), destination_caller=bytes(32),
                       min_finality_threshold=2000, body=body.encode())
    hub = hub_for(sim.world)
    hub.burned(SOLANA_DOMAIN, "sig-stranger", sent.encode())
    sim.world.clock.advance(timedelta(minutes=1))
    [burn] = hub.messages(SOLANA_DOMAIN, "sig-stranger")
    assert burn.attested is not None and burn.attestation is not None
    with pytest.raises(TransactionRefusedError, match="not the user's wallet"):  # we sign no mint to a stranger
        cctp.sign_receive("u", account.address, burn.attested.encode(), burn.attestation)
    # anyone may relay it (destinationCaller 0): it mints to the recorded recipient only, in full (Standard)
    relayer: LocalAccount = Account.create()
    httpx.post(f"{sim.base_url}/sim/arbitrum/fund", json={"address": relayer.address, "eth": "0.01"})
    data = receive_message_calldata(burn.attested.encode(), burn.attestation)
    assert cctp.receipt_status(cctp.send(_signed_raw(relayer, 0, ARBITRUM_MESSAGE_TRANSMITTER_V2, data))) == "landed"
    assert client.usdc_balance(stranger) == Decimal(9) and client.usdc_balance(account.address) == 0

    elsewhere = replace(burn.attested, destination_domain=SOLANA_DOMAIN, nonce=b"\x31" * 32)
    signed = sign_attestation(elsewhere.encode(), list(hub.attester_keys))
    tx_hash = cctp.send(_signed_raw(relayer, 1, ARBITRUM_MESSAGE_TRANSMITTER_V2,
                                    receive_message_calldata(elsewhere.encode(), signed)))
    assert cctp.receipt_status(tx_hash) == "failed"
    assert ledger_for(sim.world).revert_reasons[tx_hash] == "Invalid destination domain"


def test_a_burn_whose_max_fee_is_not_under_the_amount_reverts_and_burns_nothing(sim: RunningSim) -> None:
    account, solana_wallet, cctp, client = _user(sim, "10")
    with pytest.raises(ValueError, match="under the amount"):
        cctp.sign_burn("u", account.address, 10_000_000, _ata(solana_wallet), 10_000_000, 1000)
    recipient = solana_usdc_account(solana_wallet)

    def send(nonce: int, to: str, data: bytes) -> str:  # signed without dnbot's validator: the chain must refuse
        return cctp.send(_signed_raw(account, nonce, to, data))

    send(0, ARBITRUM_USDC, approve_calldata(ARBITRUM_TOKEN_MESSENGER_V2, 10_000_000))
    over = deposit_for_burn_calldata(10_000_000, recipient, 10_000_000, 1000)
    with pytest.raises(VenueRejected, match="Max fee must be less than amount"):
        client.sign_call("u", account.address, ARBITRUM_TOKEN_MESSENGER_V2, over, LocalEvmSigner({"u": account}))
    tx_hash = send(1, ARBITRUM_TOKEN_MESSENGER_V2, over)
    assert cctp.receipt_status(tx_hash) == "failed" and cctp.burn_message(tx_hash) is None
    assert client.usdc_balance(account.address) == Decimal(10) and cctp.allowance(account.address) == 10_000_000
    assert hub_for(sim.world).messages(ARBITRUM_DOMAIN, tx_hash) == []
    tx_hash = send(2, ARBITRUM_TOKEN_MESSENGER_V2, deposit_for_burn_calldata(10_000_000, recipient, 0, 1000,
                                                                              destination_domain=7))
    assert ledger_for(sim.world).revert_reasons[tx_hash] == "No TokenMessenger for domain"
    tx_hash = send(3, ARBITRUM_TOKEN_MESSENGER_V2, deposit_for_burn_calldata(11_000_000, recipient, 0, 1000))
    assert ledger_for(sim.world).revert_reasons[tx_hash] == "ERC20: transfer amount exceeds allowance"
    assert client.usdc_balance(account.address) == Decimal(10)
