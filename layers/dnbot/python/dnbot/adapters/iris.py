"""Circle's CCTP attestation service (Iris), V2 API: the attested messages of a burn, the Fast fee, re-attestation.

Endpoints (docs/bridge.md "Attestation (Iris)"; Circle's API reference and circlefin/cctp-go `client.go`):
- `GET /v2/messages/{sourceDomainId}?transactionHash=<tx>` -> `{"messages": [{"message", "eventNonce",
  "attestation", "decodedMessage", "cctpVersion", "status", "delayReason"}]}`; 404 while Iris has not observed
  the transaction; `status` "pending_confirmations" (attestation empty or "PENDING") until the finality asked for.
- `GET /v2/burn/USDC/fees/{src}/{dst}` -> `[{"finalityThreshold": 1000, "minimumFee": <bps>}, {"finalityThreshold":
  2000, "minimumFee": 0}]` (basis points, possibly fractional; cctp-go reads the same list under "data").
- `POST /v2/reattest/{nonce}` -> `{"message": "Re-attestation successfully requested for nonce.", "nonce"}`.

Errors (dnbot.ports): 404 on messages, a message not "complete", or an empty attestation -> AttestationPending;
429 -> VenueRateLimited with 300 s (Circle: "please wait 5 minutes before retrying"); 5xx, a timeout or no
connection -> TransientVenueError; any other 4xx, or an answer that is not Iris's JSON, or whose message bytes do
not decode or contradict its own "decodedMessage" -> VenueRejected. The message bytes are the truth (they are
what the attestation signs and what the destination chain checks); "decodedMessage" is only cross-checked.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from solders.pubkey import Pubkey

from dnbot.cctp import IRIS_MAINNET_URL
from dnbot.cctp.message import (
    FAST_FINALITY,
    MESSAGE_VERSION,
    SIGNATURE_LENGTH,
    CctpMessage,
    MalformedMessage,
)
from dnbot.ports import (
    AttestationPending,
    AttestedMessage,
    TransientVenueError,
    VenueRateLimited,
    VenueRejected,
)

RATE_LIMIT_WAIT_SECONDS = 300  # Circle: a 429 means wait 5 minutes
CCTP_VERSION = 2
COMPLETE = "complete"
_NOT_AN_ATTESTATION = ("", "PENDING")
_Model = TypeVar("_Model", bound=BaseModel)


# --- Iris's JSON ------------------------------------------------------------------------------------------------
# Circle's examples give numbers as strings in some places and as numbers in others: pydantic's lax ints take both.

class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class IrisBurnBody(_Wire):
    burn_token: str | None = Field(default=None, alias="burnToken")
    mint_recipient: str | None = Field(default=None, alias="mintRecipient")
    amount: int | None = None
    message_sender: str | None = Field(default=None, alias="messageSender")
    max_fee: int | None = Field(default=None, alias="maxFee")
    fee_executed: int | None = Field(default=None, alias="feeExecuted")
    expiration_block: int | None = Field(default=None, alias="expirationBlock")


class IrisDecodedMessage(_Wire):
    source_domain: int | None = Field(default=None, alias="sourceDomain")
    destination_domain: int | None = Field(default=None, alias="destinationDomain")
    nonce: str | None = None
    sender: str | None = None
    recipient: str | None = None
    destination_caller: str | None = Field(default=None, alias="destinationCaller")
    min_finality_threshold: int | None = Field(default=None, alias="minFinalityThreshold")
    finality_threshold_executed: int | None = Field(default=None, alias="finalityThresholdExecuted")
    decoded_message_body: IrisBurnBody | None = Field(default=None, alias="decodedMessageBody")


class IrisMessage(_Wire):
    message: str | None = None
    event_nonce: str | None = Field(default=None, alias="eventNonce")
    attestation: str | None = None
    decoded_message: IrisDecodedMessage | None = Field(default=None, alias="decodedMessage")
    cctp_version: int | None = Field(default=None, alias="cctpVersion")
    status: str
    delay_reason: str | None = Field(default=None, alias="delayReason")


class IrisMessages(_Wire):
    messages: list[IrisMessage]


class IrisFee(_Wire):
    finality_threshold: int = Field(alias="finalityThreshold")
    minimum_fee: Decimal = Field(alias="minimumFee", ge=0)


class IrisFees(_Wire):
    data: list[IrisFee]


# --- the client -------------------------------------------------------------------------------------------------

class IrisClient:
    """One client per process (Lambda); Iris needs no key. Implements dnbot.ports.AttestationService."""

    def __init__(self, base_url: str = IRIS_MAINNET_URL, transport: httpx.BaseTransport | None = None,
                 timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), transport=transport, timeout=timeout,
                                  headers={"accept": "application/json"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> IrisClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def attested(self, source_domain: int, transaction: str) -> list[AttestedMessage]:
        """Every CCTP message of `transaction` (in log order), decoded from the attested bytes."""
        response = self._request("GET", f"/v2/messages/{source_domain}", params={"transactionHash": transaction})
        if response.status_code == 404:
            raise AttestationPending(f"Iris has not observed {transaction} on domain {source_domain} yet")
        self._raise_for_status(response, f"messages of {transaction}")
        answer = _parse(IrisMessages, response, "messages")
        if not answer.messages:
            raise AttestationPending(f"Iris lists no message for {transaction} yet")
        for index, item in enumerate(answer.messages):
            if item.status != COMPLETE or (item.attestation or "") in _NOT_AN_ATTESTATION:
                reason = f", {item.delay_reason}" if item.delay_reason else ""
                raise AttestationPending(f"Iris: message {index} of {transaction} is {item.status}{reason}")
        return [_attested(item, source_domain, transaction) for item in answer.messages]

    def fast_fee_bps(self, source_domain: int, destination_domain: int) -> Decimal:
        """The minimum Fast Transfer (finality 1000) fee on this route, in basis points of the amount."""
        response = self._request("GET", f"/v2/burn/USDC/fees/{source_domain}/{destination_domain}")
        self._raise_for_status(response, f"fees {source_domain}->{destination_domain}")
        try:
            body = response.json(parse_float=Decimal)  # fractional basis points, exactly
        except ValueError:
            raise VenueRejected(f"Iris fees: the answer is not JSON: {response.text[:200]!r}") from None
        fees = _validate(IrisFees, body if isinstance(body, dict) else {"data": body}, "fees")
        fast = [fee.minimum_fee for fee in fees.data if fee.finality_threshold == FAST_FINALITY]
        if not fast:
            raise VenueRejected(f"Iris quotes no Fast fee (finality {FAST_FINALITY}) for "
                                f"{source_domain}->{destination_domain}")
        return fast[0]

    def reattest(self, nonce: bytes) -> None:
        """Ask Iris to re-sign a pre-finality message as finalized; fetch it again with `attested` afterwards."""
        if len(nonce) != 32:
            raise ValueError("a CCTP V2 nonce is 32 bytes")
        response = self._request("POST", f"/v2/reattest/0x{nonce.hex()}")
        self._raise_for_status(response, f"reattest 0x{nonce.hex()}")

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        try:
            return self._http.request(method, path, params=params)
        except httpx.TimeoutException as exc:
            raise TransientVenueError(f"Iris {path}: timed out ({exc})") from exc
        except httpx.TransportError as exc:
            raise TransientVenueError(f"Iris {path}: could not reach it ({exc})") from exc

    @staticmethod
    def _raise_for_status(response: httpx.Response, what: str) -> None:
        status = response.status_code
        if status < 300:
            return
        if status == 429:
            raise VenueRateLimited(f"Iris {what}: rate limited (429), wait {RATE_LIMIT_WAIT_SECONDS} s",
                                   retry_after_seconds=max(RATE_LIMIT_WAIT_SECONDS,
                                                           _retry_after(response.headers.get("retry-after"))))
        if status >= 500:
            raise TransientVenueError(f"Iris {what}: {status} {_error_text(response)}")
        raise VenueRejected(f"Iris {what}: {status} {_error_text(response)}")


# --- decoding and cross-checks ------------------------------------------------------------------------------------

def _attested(item: IrisMessage, source_domain: int, transaction: str) -> AttestedMessage:
    where = f"Iris message of {transaction}"
    raw = _hex(item.message, f"{where}: message")
    attestation = _hex(item.attestation, f"{where}: attestation")
    if len(attestation) % SIGNATURE_LENGTH:
        raise VenueRejected(f"{where}: the attestation is {len(attestation)} bytes, not 65-byte signatures")
    try:
        message = CctpMessage.decode(raw)
        body = message.burn
    except MalformedMessage as bad:
        raise VenueRejected(f"{where}: not a CCTP V2 burn message ({bad})") from None
    if message.version != MESSAGE_VERSION or (item.cctp_version is not None and item.cctp_version != CCTP_VERSION):
        raise VenueRejected(f"{where}: not a CCTP V2 message (version {message.version}, cctp {item.cctp_version})")
    if message.source_domain != source_domain:
        raise VenueRejected(f"{where}: from domain {message.source_domain}, asked for {source_domain}")
    if message.nonce == bytes(32):
        raise VenueRejected(f"{where}: attested without a nonce")
    if item.event_nonce and not _same_nonce(item.event_nonce, message.nonce):
        raise VenueRejected(f"{where}: eventNonce {item.event_nonce} is not the message's nonce")
    if item.decoded_message is not None:
        _cross_check(item.decoded_message, message, where)
    return AttestedMessage(message=raw, attestation=attestation, nonce=message.nonce,
                           fee_executed_raw=body.fee_executed,
                           finality_threshold_executed=message.finality_threshold_executed)


def _cross_check(decoded: IrisDecodedMessage, message: CctpMessage, where: str) -> None:
    """Refuse an answer whose "decodedMessage" says something else than its own bytes."""
    body = message.burn
    numbers: list[tuple[str, int | None, int]] = [
        ("sourceDomain", decoded.source_domain, message.source_domain),
        ("destinationDomain", decoded.destination_domain, message.destination_domain),
        ("minFinalityThreshold", decoded.min_finality_threshold, message.min_finality_threshold),
        ("finalityThresholdExecuted", decoded.finality_threshold_executed, message.finality_threshold_executed)]
    addresses: list[tuple[str, str | None, bytes]] = [
        ("sender", decoded.sender, message.sender), ("recipient", decoded.recipient, message.recipient),
        ("destinationCaller", decoded.destination_caller, message.destination_caller)]
    burn = decoded.decoded_message_body
    if burn is not None:
        numbers += [("amount", burn.amount, body.amount), ("maxFee", burn.max_fee, body.max_fee),
                    ("feeExecuted", burn.fee_executed, body.fee_executed),
                    ("expirationBlock", burn.expiration_block, body.expiration_block)]
        addresses += [("burnToken", burn.burn_token, body.burn_token),
                      ("mintRecipient", burn.mint_recipient, body.mint_recipient),
                      ("messageSender", burn.message_sender, body.message_sender)]
    for name, said, actual in numbers:
        if said is not None and said != actual:
            raise VenueRejected(f"{where}: decodedMessage {name} {said} contradicts the message bytes ({actual})")
    for name, text, value in addresses:
        said_bytes = _address32(text)
        if said_bytes is not None and said_bytes != value:
            raise VenueRejected(f"{where}: decodedMessage {name} {text} contradicts the message bytes "
                                f"(0x{value.hex()})")
    if decoded.nonce and not _same_nonce(decoded.nonce, message.nonce):
        raise VenueRejected(f"{where}: decodedMessage nonce {decoded.nonce} contradicts the message bytes "
                            f"(0x{message.nonce.hex()})")


def _same_nonce(text: str, nonce: bytes) -> bool:
    try:
        said = int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return False
    return said == int.from_bytes(nonce, "big")


def _address32(text: str | None) -> bytes | None:
    """An address as Iris may print it (0x + 20 or 32 bytes, or a Solana base58 key) in the 32-byte form; None
    when empty or in a form not recognised (then not compared)."""
    if not text:
        return None
    if text.lower().startswith("0x"):
        try:
            raw = bytes.fromhex(text[2:])
        except ValueError:
            return None
        return bytes(12) + raw if len(raw) == 20 else raw if len(raw) == 32 else None
    try:
        return bytes(Pubkey.from_string(text))
    except ValueError:
        return None


def _hex(text: str | None, what: str) -> bytes:
    if not text or not text.lower().startswith("0x"):
        raise VenueRejected(f"{what} is not 0x-hex: {text!r}"[:300])
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise VenueRejected(f"{what} is not 0x-hex: {text[:80]!r}") from None


def _parse(model: type[_Model], response: httpx.Response, what: str) -> _Model:
    try:
        body = response.json()
    except ValueError:
        raise VenueRejected(f"Iris {what}: the answer is not JSON: {response.text[:200]!r}") from None
    return _validate(model, body, what)


def _validate(model: type[_Model], body: Any, what: str) -> _Model:
    try:
        return model.model_validate(body)
    except ValidationError as bad:
        first = bad.errors(include_url=False)[0]
        location = ".".join(str(part) for part in first["loc"]) or "the body"
        raise VenueRejected(f"Iris {what}: unexpected answer: {location}: {first['msg']}") from None


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body)[:200]
    return str(body)[:200]


def _retry_after(header: str | None) -> int:
    try:
        return int(header) if header else 0
    except ValueError:
        return 0
