"""IrisClient against Iris's documented answers (httpx.MockTransport): what is pending, what is attested, what is
refused, and the Fast fee."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from dnbot.adapters.iris import IrisClient
from dnbot.cctp import (
    ARBITRUM_DOMAIN,
    ARBITRUM_TOKEN_MESSENGER_V2,
    SOLANA_DOMAIN,
    SOLANA_TOKEN_MESSENGER_MINTER_V2,
    SOLANA_USDC_MINT,
)
from dnbot.cctp.message import BurnBody, CctpMessage, evm_to_bytes32, sign_attestation, solana_to_bytes32
from dnbot.ports import AttestationPending, TransientVenueError, VenueRateLimited, VenueRejected
from dnbot.sim.cctp import ATTESTER_KEYS

SIGNATURE = "5" + "K" * 86  # a Solana transaction signature (base58)
NONCE = bytes.fromhex("ab" * 32)
USER_EVM = "0x" + "22" * 20
WALLET = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"


def _burn(amount: int = 2_500_000, fee: int = 250) -> CctpMessage:
    """A Solana -> Arbitrum Fast burn as Iris attests it (its nonce, finality 1000, the fee filled in)."""
    body = BurnBody(burn_token=solana_to_bytes32(SOLANA_USDC_MINT), mint_recipient=evm_to_bytes32(USER_EVM),
                    amount=amount, message_sender=solana_to_bytes32(WALLET), max_fee=500)
    emitted = CctpMessage(source_domain=SOLANA_DOMAIN, destination_domain=ARBITRUM_DOMAIN,
                          sender=solana_to_bytes32(SOLANA_TOKEN_MESSENGER_MINTER_V2),
                          recipient=evm_to_bytes32(ARBITRUM_TOKEN_MESSENGER_V2), destination_caller=bytes(32),
                          min_finality_threshold=1000, body=body.encode())
    return emitted.attested(NONCE, 1000, fee)


def _complete(message: CctpMessage, **decoded_changes: Any) -> dict[str, Any]:
    body = message.burn
    decoded_body = {"burnToken": "0x" + body.burn_token.hex(), "mintRecipient": USER_EVM,
                    "amount": str(body.amount), "messageSender": WALLET, "maxFee": str(body.max_fee),
                    "feeExecuted": str(body.fee_executed), "expirationBlock": "0", "hookData": ""}
    decoded = {"sourceDomain": "5", "destinationDomain": "3", "nonce": "0x" + message.nonce.hex(),
               "sender": SOLANA_TOKEN_MESSENGER_MINTER_V2, "recipient": ARBITRUM_TOKEN_MESSENGER_V2.lower(),
               "destinationCaller": "0x" + "00" * 32, "minFinalityThreshold": "1000",
               "finalityThresholdExecuted": "1000", "messageBody": "0x" + message.body.hex(),
               "decodedMessageBody": decoded_body}
    for key, value in decoded_changes.items():
        (decoded_body if key in decoded_body else decoded)[key] = value
    raw = message.encode()
    return {"message": "0x" + raw.hex(), "eventNonce": "0x" + message.nonce.hex(),
            "attestation": "0x" + sign_attestation(raw, list(ATTESTER_KEYS)).hex(), "decodedMessage": decoded,
            "cctpVersion": 2, "status": "complete", "delayReason": None}


def _client(answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request] | None = None) -> IrisClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return answer(request)

    return IrisClient("https://iris.test", transport=httpx.MockTransport(handler))


def _json(status: int, body: Any) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=body)


def test_a_transaction_not_observed_yet_is_pending_and_the_request_is_circles() -> None:
    seen: list[httpx.Request] = []
    client = _client(_json(404, {"error": "Message hash not found"}), seen)
    with pytest.raises(AttestationPending, match="not observed"):
        client.attested(SOLANA_DOMAIN, SIGNATURE)
    assert seen[0].method == "GET" and seen[0].url.path == "/v2/messages/5"
    assert seen[0].url.params["transactionHash"] == SIGNATURE
    assert issubclass(AttestationPending, TransientVenueError)


@pytest.mark.parametrize("message", [
    {"message": "0x", "eventNonce": "", "attestation": "PENDING", "cctpVersion": 2,
     "status": "pending_confirmations", "delayReason": None},
    {"message": "0x", "eventNonce": "", "attestation": "", "cctpVersion": 2, "status": "pending_confirmations"},
    {"message": "0x00", "attestation": "", "status": "complete"},  # complete but no attestation yet
])
def test_a_message_not_complete_is_pending(message: dict[str, Any]) -> None:
    with pytest.raises(AttestationPending):
        _client(_json(200, {"messages": [message]})).attested(SOLANA_DOMAIN, SIGNATURE)


def test_an_empty_message_list_is_pending() -> None:
    with pytest.raises(AttestationPending):
        _client(_json(200, {"messages": []})).attested(SOLANA_DOMAIN, SIGNATURE)


def test_one_pending_message_of_two_makes_the_transaction_pending() -> None:
    pending = {"message": "0x", "attestation": "PENDING", "status": "pending_confirmations",
               "delayReason": "insufficient_fee"}
    with pytest.raises(AttestationPending, match="insufficient_fee"):
        _client(_json(200, {"messages": [_complete(_burn()), pending]})).attested(SOLANA_DOMAIN, SIGNATURE)


def test_a_complete_message_is_decoded_from_its_bytes() -> None:
    message = _burn(amount=2_500_000, fee=250)
    [attested] = _client(_json(200, {"messages": [_complete(message)]})).attested(SOLANA_DOMAIN, SIGNATURE)
    assert attested.message == message.encode()
    assert attested.nonce == NONCE and attested.fee_executed_raw == 250
    assert attested.finality_threshold_executed == 1000
    assert len(attested.attestation) == 130  # two 65-byte signatures
    assert CctpMessage.decode(attested.message).burn.amount == 2_500_000


def test_a_complete_message_without_decoded_message_is_accepted() -> None:
    answer = _complete(_burn(fee=7))
    answer["decodedMessage"] = None
    [attested] = _client(_json(200, {"messages": [answer]})).attested(SOLANA_DOMAIN, SIGNATURE)
    assert attested.fee_executed_raw == 7


@pytest.mark.parametrize(("change", "field"), [
    ({"feeExecuted": "1"}, "feeExecuted"),
    ({"amount": "2500001"}, "amount"),
    ({"mintRecipient": "0x" + "33" * 20}, "mintRecipient"),
    ({"destinationDomain": "0"}, "destinationDomain"),
    ({"finalityThresholdExecuted": "2000"}, "finalityThresholdExecuted"),
    ({"nonce": "0x" + "cd" * 32}, "nonce"),
])
def test_a_decoded_message_contradicting_the_bytes_is_refused(change: dict[str, str], field: str) -> None:
    answer = _complete(_burn(), **change)
    with pytest.raises(VenueRejected, match=field):
        _client(_json(200, {"messages": [answer]})).attested(SOLANA_DOMAIN, SIGNATURE)


def test_a_message_from_another_domain_or_without_a_nonce_is_refused() -> None:
    answer = _complete(_burn())
    with pytest.raises(VenueRejected, match="from domain 5, asked for 3"):
        _client(_json(200, {"messages": [answer]})).attested(ARBITRUM_DOMAIN, "0x" + "ab" * 32)
    unnonced = _burn().attested(bytes(32), 1000, 250)
    answer = _complete(unnonced)
    with pytest.raises(VenueRejected, match="without a nonce"):
        _client(_json(200, {"messages": [answer]})).attested(SOLANA_DOMAIN, SIGNATURE)


def test_a_truncated_attestation_is_refused() -> None:
    answer = _complete(_burn())
    answer["attestation"] = answer["attestation"][:-2]
    with pytest.raises(VenueRejected, match="65-byte"):
        _client(_json(200, {"messages": [answer]})).attested(SOLANA_DOMAIN, SIGNATURE)


def test_a_rate_limit_says_wait_five_minutes() -> None:
    with pytest.raises(VenueRateLimited) as raised:
        _client(_json(429, {"error": "Too Many Requests"})).attested(SOLANA_DOMAIN, SIGNATURE)
    assert raised.value.retry_after_seconds == 300
    assert isinstance(raised.value, TransientVenueError) and not isinstance(raised.value, AttestationPending)
    with pytest.raises(VenueRateLimited) as longer:
        _client(lambda request: httpx.Response(429, headers={"retry-after": "600"})).fast_fee_bps(5, 3)
    assert longer.value.retry_after_seconds == 600


def test_server_errors_and_the_network_are_transient() -> None:
    with pytest.raises(TransientVenueError) as raised:
        _client(_json(503, {"error": "Service Unavailable"})).attested(SOLANA_DOMAIN, SIGNATURE)
    assert not isinstance(raised.value, AttestationPending) and "503" in str(raised.value)

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(TransientVenueError, match="could not reach"):
        _client(unreachable).attested(SOLANA_DOMAIN, SIGNATURE)


@pytest.mark.parametrize(("status", "content", "match"), [
    (200, b"<html>maintenance</html>", "not JSON"),
    (200, json.dumps({"data": []}).encode(), "messages: Field required"),
    (200, json.dumps({"messages": [{"message": "0x00", "attestation": "0x00"}]}).encode(), "status"),
    (200, json.dumps({"messages": [{"message": "zz", "attestation": "0x" + "00" * 65,
                                    "status": "complete"}]}).encode(), "not 0x-hex"),
    (200, json.dumps({"messages": [{"message": "0x0001", "attestation": "0x" + "00" * 65,
                                    "status": "complete"}]}).encode(), "not a CCTP V2 burn message"),
    (400, json.dumps({"error": "Invalid transactionHash"}).encode(), "400 Invalid transactionHash"),
])
def test_answers_that_are_not_irises_are_refused_readably(status: int, content: bytes, match: str) -> None:
    client = _client(lambda request: httpx.Response(status, content=content))
    with pytest.raises(VenueRejected, match=match):
        client.attested(SOLANA_DOMAIN, SIGNATURE)


def test_the_fast_fee_is_the_finality_1000_entry() -> None:
    seen: list[httpx.Request] = []
    fees = [{"finalityThreshold": 1000, "minimumFee": 1}, {"finalityThreshold": 2000, "minimumFee": 0}]
    assert _client(_json(200, fees), seen).fast_fee_bps(SOLANA_DOMAIN, ARBITRUM_DOMAIN) == Decimal(1)
    assert seen[0].url.path == "/v2/burn/USDC/fees/5/3"
    fractional = {"data": [{"finalityThreshold": 2000, "minimumFee": 0},
                           {"finalityThreshold": 1000, "minimumFee": 1.3}]}  # cctp-go's shape, fractional bps
    assert _client(_json(200, fractional)).fast_fee_bps(ARBITRUM_DOMAIN, SOLANA_DOMAIN) == Decimal("1.3")
    with pytest.raises(VenueRejected, match="no Fast fee"):
        _client(_json(200, [{"finalityThreshold": 2000, "minimumFee": 0}])).fast_fee_bps(5, 3)
    with pytest.raises(VenueRejected, match="minimumFee"):
        _client(_json(200, [{"finalityThreshold": 1000, "minimumFee": -1}])).fast_fee_bps(5, 3)


def test_reattest_posts_the_nonce() -> None:
    seen: list[httpx.Request] = []
    answer = {"message": "Re-attestation successfully requested for nonce.", "nonce": "0x" + NONCE.hex()}
    _client(_json(200, answer), seen).reattest(NONCE)
    assert seen[0].method == "POST" and seen[0].url.path == "/v2/reattest/0x" + "ab" * 32
    with pytest.raises(VenueRejected, match="already finalized"):
        _client(_json(400, {"error": "Message is already finalized"})).reattest(NONCE)
    with pytest.raises(ValueError, match="32 bytes"):
        _client(_json(200, answer)).reattest(b"\x01")
