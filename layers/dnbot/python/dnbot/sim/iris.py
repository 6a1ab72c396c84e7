"""Simulated Circle attestation service (`/iris`): the CCTP V2 endpoints dnbot calls, answered from the world's
CCTP hub (`dnbot.sim.cctp.hub_for`), in Iris's JSON shapes (docs/bridge.md "Attestation (Iris)").

- `GET /v2/messages/{sourceDomainId}?transactionHash=` (or `&nonce=`): 404 `{"error": "Message not found"}` for a
  transaction no chain simulator has burned in; `"status": "pending_confirmations"` with an empty attestation until
  the burn's finality delay has passed on the simulated clock; then `"complete"` with the 0x-hex message (Circle's
  nonce, finality reached and Fast fee filled in), eventNonce, attestation (the hub's attesters, threshold 2) and
  a `decodedMessage` (numbers as strings, addresses as 0x + 32 bytes).
- `GET /v2/burn/USDC/fees/{src}/{dst}`: `[{"finalityThreshold": 1000, "minimumFee": <bps>}, {"finalityThreshold":
  2000, "minimumFee": 0}]` from `FAST_FEE_BPS`.
- `POST /v2/reattest/{nonce}`: a Fast (pre-finality) message is re-signed as finalized (2000, the fee kept, its
  expirationBlock 0: Circle's "broadcast expired fast burns, by setting expiration block to 0") once
  the source's Standard finality delay has passed since its burn; meanwhile it shows "pending_confirmations".
  Unknown nonce: 404; already finalized: 400.

Faults (`world.faults`, venue "iris"; calls `messages`, `fees`, `reattest`): reject -> 429 (Iris's refusal of a
well-formed request: its rate limit), 5xx -> 500, timeout -> 504 after `delay_seconds` (30 s by default), delay ->
answers late, lose_response -> acts (a re-attestation is recorded) and answers 504.

Control (`/sim/iris`): `GET /burns` lists the hub's burns with their attestation state.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response

from dnbot.cctp import ARBITRUM_DOMAIN, SOLANA_DOMAIN
from dnbot.cctp.message import FAST_FINALITY, STANDARD_FINALITY, CctpMessage, sign_attestation
from dnbot.sim.cctp import ATTESTATION_DELAY, FAST_FEE_BPS, Burn, CctpHub, hub_for
from dnbot.sim.venue import SimVenue
from dnbot.sim.world import FaultKind, SimWorld

VENUE = "iris"
CCTP_VERSION = 2
DOMAINS = (SOLANA_DOMAIN, ARBITRUM_DOMAIN)


@dataclass
class IrisSim:
    """The attestation service's own state on top of the hub: re-attestations asked for and not yet signed."""

    world: SimWorld
    hub: CctpHub
    reattest_due: dict[bytes, datetime] = field(default_factory=dict)  # nonce -> when it is re-signed
    lock: threading.Lock = field(default_factory=threading.Lock)

    def messages(self, source_domain: int, transaction: str | None, nonce: bytes | None) -> list[dict[str, Any]]:
        if transaction is not None:
            burns = self.hub.messages(source_domain, transaction)
        else:
            burns = [burn for burn in self._all_burns(source_domain) if burn.attested is not None
                     and burn.attested.nonce == nonce]
        return [self._view(burn) for burn in burns]

    def reattest(self, nonce: bytes) -> tuple[int, dict[str, Any]]:
        found = [burn for domain in DOMAINS for burn in self._all_burns(domain)
                 if burn.attested is not None and burn.attested.nonce == nonce]
        if not found:
            return 404, {"error": "Message not found"}
        burn = found[0]
        assert burn.attested is not None
        if burn.attested.finality_threshold_executed >= STANDARD_FINALITY:
            return 400, {"error": "Message is already finalized"}
        with self.lock:
            self.reattest_due.setdefault(
                nonce, burn.burned_at + ATTESTATION_DELAY[(burn.source_domain, STANDARD_FINALITY)])
        return 200, {"message": "Re-attestation successfully requested for nonce.", "nonce": "0x" + nonce.hex()}

    def burns_view(self) -> list[dict[str, Any]]:
        rows = []
        for domain in DOMAINS:
            for burn in self._all_burns(domain):
                view = self._view(burn)
                rows.append({"source_domain": burn.source_domain, "transaction": burn.transaction,
                             "burned_at": burn.burned_at.isoformat(),
                             "destination_domain": burn.message.destination_domain,
                             "amount_raw": str(burn.message.burn.amount),
                             "min_finality_threshold": burn.message.min_finality_threshold,
                             "status": view["status"], "nonce": view["eventNonce"] or None,
                             "finality_threshold_executed": burn.attested.finality_threshold_executed
                             if burn.attested is not None else None})
        return rows

    def _all_burns(self, source_domain: int) -> list[Burn]:
        with self.hub.lock:
            transactions = [tx for (domain, tx) in self.hub.burns if domain == source_domain]
        return [burn for tx in transactions for burn in self.hub.messages(source_domain, tx)]

    def _view(self, burn: Burn) -> dict[str, Any]:
        with self.hub.lock:
            if burn.attested is not None and not self._reattest_pending(burn):
                assert burn.attestation is not None
                return _complete(burn.attested, burn.attestation)
        return {"message": "0x", "eventNonce": "", "attestation": "", "decodedMessage": None,
                "cctpVersion": CCTP_VERSION, "status": "pending_confirmations", "delayReason": None}

    def _reattest_pending(self, burn: Burn) -> bool:
        """A re-attestation asked for: re-sign as finalized once due (under the hub's lock)."""
        assert burn.attested is not None
        with self.lock:
            due = self.reattest_due.get(burn.attested.nonce)
            if due is None:
                return False
            if self.world.clock.now() < due:
                return True
            del self.reattest_due[burn.attested.nonce]
        finalized = replace(burn.attested, finality_threshold_executed=STANDARD_FINALITY,
                            body=replace(burn.attested.burn, expiration_block=0).encode())
        burn.attested = finalized
        burn.attestation = sign_attestation(finalized.encode(), list(self.hub.attester_keys))
        return False


def _complete(message: CctpMessage, attestation: bytes) -> dict[str, Any]:
    body = message.burn
    return {
        "message": "0x" + message.encode().hex(),
        "eventNonce": "0x" + message.nonce.hex(),
        "attestation": "0x" + attestation.hex(),
        "decodedMessage": {
            "sourceDomain": str(message.source_domain), "destinationDomain": str(message.destination_domain),
            "nonce": "0x" + message.nonce.hex(), "sender": "0x" + message.sender.hex(),
            "recipient": "0x" + message.recipient.hex(), "destinationCaller": "0x" + message.destination_caller.hex(),
            "minFinalityThreshold": str(message.min_finality_threshold),
            "finalityThresholdExecuted": str(message.finality_threshold_executed),
            "messageBody": "0x" + message.body.hex(),
            "decodedMessageBody": {
                "burnToken": "0x" + body.burn_token.hex(), "mintRecipient": "0x" + body.mint_recipient.hex(),
                "amount": str(body.amount), "messageSender": "0x" + body.message_sender.hex(),
                "maxFee": str(body.max_fee), "feeExecuted": str(body.fee_executed),
                "expirationBlock": str(body.expiration_block), "hookData": "0x" + body.hook_data.hex()}},
        "cctpVersion": CCTP_VERSION,
        "status": "complete",
        "delayReason": None,
    }


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _nonce(text: str) -> bytes | None:
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


def _domain(text: str) -> int | None:
    return int(text) if text.isdigit() and int(text) in DOMAINS else None


def build_app(sim: IrisSim) -> FastAPI:
    app = FastAPI(title="dnbot sim: Circle Iris (CCTP V2)", openapi_url=None)
    world = sim.world

    async def fault_of(call: str) -> tuple[bool, Response | None]:
        """(lose the response, early answer)."""
        fault = world.faults.take(VENUE, call)
        if fault is None:
            return False, None
        if fault.kind is FaultKind.REJECT:
            return False, _error(429, fault.message)
        if fault.kind is FaultKind.SERVER_ERROR:
            return False, _error(500, fault.message)
        if fault.kind is FaultKind.TIMEOUT:
            await asyncio.sleep(fault.delay_seconds or 30.0)
            return False, _error(504, "Gateway Timeout")
        if fault.kind is FaultKind.DELAY:
            await asyncio.sleep(fault.delay_seconds)
        return fault.kind is FaultKind.LOSE_RESPONSE, None

    @app.get("/v2/messages/{source_domain}")
    async def messages(source_domain: str, transactionHash: str | None = None,  # noqa: N803 (Iris's name)
                       nonce: str | None = None) -> Response:
        lose, early = await fault_of("messages")
        if early is not None:
            return early
        domain = _domain(source_domain)
        if domain is None:
            return _error(400, f"Invalid sourceDomainId: {source_domain}")
        if not transactionHash and not nonce:
            return _error(400, "At least one of transactionHash or nonce is required")
        wanted = _nonce(nonce) if nonce else None
        if nonce and wanted is None:
            return _error(400, f"Invalid nonce: {nonce}")
        found = sim.messages(domain, transactionHash or None, wanted)
        if lose:
            return _error(504, "Gateway Timeout")
        if not found:
            return _error(404, "Message not found")
        return JSONResponse({"messages": found})

    @app.get("/v2/burn/USDC/fees/{source_domain}/{destination_domain}")
    async def fees(source_domain: str, destination_domain: str) -> Response:
        lose, early = await fault_of("fees")
        if early is not None:
            return early
        source, destination = _domain(source_domain), _domain(destination_domain)
        if source is None or destination is None or source == destination:
            return _error(400, f"Invalid route: {source_domain} -> {destination_domain}")
        if lose:
            return _error(504, "Gateway Timeout")
        return JSONResponse([{"finalityThreshold": FAST_FINALITY, "minimumFee": FAST_FEE_BPS[source]},
                             {"finalityThreshold": STANDARD_FINALITY, "minimumFee": 0}])

    @app.post("/v2/reattest/{nonce}")
    async def reattest(nonce: str) -> Response:
        lose, early = await fault_of("reattest")
        if early is not None:
            return early
        wanted = _nonce(nonce)
        if wanted is None:
            return _error(400, f"Invalid nonce: {nonce}")
        status, body = sim.reattest(wanted)
        if lose:
            return _error(504, "Gateway Timeout")
        return JSONResponse(body, status_code=status)

    return app


def build_control(sim: IrisSim) -> APIRouter:
    router = APIRouter()

    @router.get("/burns")
    def burns() -> dict[str, Any]:
        return {"burns": sim.burns_view()}

    return router


def create_venue(world: SimWorld) -> SimVenue:
    sim = IrisSim(world, hub_for(world))
    return SimVenue(prefix="/iris", app=build_app(sim), control=build_control(sim))
