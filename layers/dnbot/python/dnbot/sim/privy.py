"""Simulated Privy (`/privy`): the wallet API privy-client calls, and the login tokens Privy gives a browser.

Wallet API, like api.privy.io:
- `POST /v1/wallets` (chain_type solana | ethereum, owner {public_key} or owner_id, external_id) -> the wallet;
- `GET /v1/wallets/{id}` and `GET /v1/wallets?external_id=&chain_type=&address=` (one page);
- `POST /v1/wallets/{id}/rpc`: `signTransaction` (Solana, base64), `eth_signTypedData_v4` (EIP-712) and
  `eth_signTransaction` (EVM, RLP);
- `GET /v1/users/{did}` (the user's linked accounts: the email).

Every request needs HTTP Basic auth (app id : app secret) and a `privy-app-id` header naming the same app.
An RPC on a wallet with an owner (or, without one, on an app with a registered authorization key) needs a
`privy-authorization-signature` that VERIFIES against that P-256 key over the canonical request (RFC 8785 JSON
of version, method, full URL, body and the privy-* headers); anything else is refused with 401 and the error
shape `{"error": message, "code": ...}`. An expired `privy-request-expiry` is refused (400).
`privy-idempotency-key`: the same key with the same request replays the first answer; the same key with a
different request is refused (400, not 409: privy-client retries 409s, and a mismatch never heals).

The sim holds the wallets' private keys (solders Keypair, eth-account) in memory and really signs, so the
Solana sim and the Hyperliquid sim verify these signatures like the real chains do.

Login: each registered app gets an ES256 token key; `GET /api/v1/apps/{app_id}/jwks.json` serves it (Privy's
JWKS path), and the control endpoint `POST /sim/privy/login` plays the browser's email-OTP login, returning
the access and identity tokens Privy would (iss "privy.io", aud = app id, sub = the user's DID).

Faults (`world.faults`, venue "privy"): calls `create_wallet`, `get_wallet`, `list_wallets`, `get_user`, and
the RPC method names `signTransaction`, `eth_signTypedData_v4`, `eth_signTransaction`.

Control (`/sim/privy`): `POST /apps {"app_id", "app_secret", "authorization_public_key"?}` registers an app
(the key: base64 DER SPKI as Privy shows it, or PEM); `GET /apps/{app_id}/verification_key` (PEM);
`POST /login {"app_id", "email", "ttl_seconds"?}` -> {user_id, access_token, identity_token};
`GET /wallets` lists wallets (ids, addresses, owners); `DELETE /idempotency` forgets idempotency keys (as
Privy does after 24 hours).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.transaction import Transaction, VersionedTransaction

from dnbot.adapters.privy.authorization import (
    SIGNATURE_HEADER,
    canonical_request,
    public_key_from_base64,
    public_key_to_base64,
    signed_headers_of,
    verify_signature,
)
from dnbot.sim.world import FaultKind, SimWorld

VENUE = "privy"


@dataclass(frozen=True)
class SimPrivyApp:
    app_id: str
    app_secret: str
    authorization_public_key: str | None = None  # base64 DER SPKI or PEM


@dataclass
class _Wallet:
    id: str
    app_id: str
    chain_type: str
    address: str
    created_at_ms: int
    owner_key: ec.EllipticCurvePublicKey | None
    owner_id: str | None
    external_id: str | None = None
    solana: Keypair | None = None
    evm: LocalAccount | None = None

    def to_json(self) -> dict[str, Any]:
        public_key = str(self.solana.pubkey()) if self.solana is not None else None
        return {
            "id": self.id, "address": self.address, "chain_type": self.chain_type,
            "created_at": self.created_at_ms, "owner_id": self.owner_id, "policy_ids": [],
            "additional_signers": [], "exported_at": None, "imported_at": None, "archived_at": None,
            "public_key": public_key, "external_id": self.external_id,
        }


@dataclass(frozen=True)
class _User:
    did: str
    email: str
    created_at_s: int

    def email_account(self) -> dict[str, Any]:
        return {"type": "email", "address": self.email, "verified_at": self.created_at_s,
                "first_verified_at": self.created_at_s, "latest_verified_at": self.created_at_s}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.did, "created_at": self.created_at_s, "has_accepted_terms": True, "is_guest": False,
                "linked_accounts": [self.email_account()], "mfa_methods": []}


def _kid(app_id: str) -> str:
    return "sim-" + hashlib.sha256(app_id.encode()).hexdigest()[:16]


class PrivyApiError(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.message, "code": self.code}, status_code=self.status)


@dataclass
class _Stored:
    fingerprint: str
    status: int
    body: dict[str, Any]


@dataclass
class PrivySim:
    world: SimWorld
    apps: dict[str, SimPrivyApp] = field(default_factory=dict)
    wallets: dict[str, _Wallet] = field(default_factory=dict)
    key_quorums: dict[str, ec.EllipticCurvePublicKey] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], _Stored] = field(default_factory=dict)
    # Login: each app's ES256 token key (Privy signs access tokens with a per-app key) and its users.
    token_keys: dict[str, ec.EllipticCurvePrivateKey] = field(default_factory=dict)
    users: dict[tuple[str, str], _User] = field(default_factory=dict)  # (app id, email) -> user
    lock: threading.Lock = field(default_factory=threading.Lock)

    def register_app(self, app: SimPrivyApp) -> None:
        if app.authorization_public_key is not None:
            public_key_from_base64(app.authorization_public_key)  # refuse a malformed key now, not per call
        with self.lock:
            self.apps[app.app_id] = app
            self.token_keys.setdefault(app.app_id, ec.generate_private_key(ec.SECP256R1()))

    # --- login (what Privy's auth service does for the browser) ------------------------------------------

    def verification_key_pem(self, app_id: str) -> str:
        """The app's token verification key, as Privy's dashboard shows it (PEM)."""
        key = self._token_key(app_id)
        return key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def jwks(self, app_id: str) -> dict[str, Any]:
        key = self._token_key(app_id)
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        return {"keys": [jwk | {"kid": _kid(app_id), "alg": "ES256", "use": "sig"}]}

    def _token_key(self, app_id: str) -> ec.EllipticCurvePrivateKey:
        key = self.token_keys.get(app_id)
        if key is None:
            raise PrivyApiError(404, f"App {app_id} not found.", "not_found")
        return key

    def login(self, app_id: str, email: str, ttl_seconds: int = 3600) -> dict[str, Any]:
        """Log `email` in (creating the user on first login): the tokens Privy's SDK gives the browser."""
        key = self._token_key(app_id)
        address = email.strip().lower()
        with self.lock:
            user = self.users.setdefault((app_id, address), _User(did=f"did:privy:{_privy_id()}", email=address,
                                                                  created_at_s=int(self.world.clock.now().timestamp())))
        # Tokens are checked on the wall clock by PyJWT, so they are stamped with it, not the sim's clock.
        now = int(time.time())
        claims = {"sid": _privy_id(), "iss": "privy.io", "iat": now, "aud": app_id, "sub": user.did,
                  "exp": now + ttl_seconds}
        headers = {"kid": _kid(app_id)}
        access_token = jwt.encode(claims, key, algorithm="ES256", headers=headers)
        identity_token = jwt.encode(claims | {"linked_accounts": json.dumps([user.email_account()])}, key,
                                    algorithm="ES256", headers=headers)
        return {"user_id": user.did, "access_token": access_token, "identity_token": identity_token}

    def user(self, app: SimPrivyApp, did: str) -> dict[str, Any]:
        with self.lock:
            found = next((u for (a, _), u in self.users.items() if a == app.app_id and u.did == did), None)
        if found is None:
            raise PrivyApiError(404, f"User {did} not found.", "not_found")
        return found.to_json()

    # --- checks ------------------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> SimPrivyApp:
        header_app_id = request.headers.get("privy-app-id")
        if not header_app_id:
            raise PrivyApiError(400, "Missing privy-app-id header.", "missing_app_id")
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            app_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            app_id, secret = "", ""
        app = self.apps.get(app_id)
        secret_ok = app is not None and hmac.compare_digest(secret.encode(), app.app_secret.encode())
        if scheme.lower() != "basic" or app is None or not secret_ok:
            raise PrivyApiError(401, "Invalid app ID or app secret.", "invalid_credentials")
        if header_app_id != app_id:
            raise PrivyApiError(401, "The privy-app-id header does not match the app credentials.",
                                "invalid_app_id")
        return app

    def check_expiry(self, request: Request) -> None:
        expiry = request.headers.get("privy-request-expiry")
        if expiry is None:
            return
        try:
            expiry_ms = int(expiry)
        except ValueError as error:
            raise PrivyApiError(400, "Invalid privy-request-expiry header.", "invalid_data") from error
        # privy-client stamps wall-clock milliseconds, so this is checked on the wall clock, not the sim's.
        if expiry_ms < time.time() * 1000:
            raise PrivyApiError(400, "The request has expired.", "request_expired")

    def check_signature(self, request: Request, body: Any, keys: list[ec.EllipticCurvePublicKey]) -> None:
        if not keys:
            return
        header = request.headers.get(SIGNATURE_HEADER)
        if not header:
            raise PrivyApiError(401, "Missing privy-authorization-signature header.",
                                "missing_authorization_signature")
        url = str(request.url.replace(query="")).rstrip("/")
        payload = canonical_request(request.method, url, body, signed_headers_of(request.headers))
        signatures = [s for s in header.split(",") if s.strip()]
        if not any(verify_signature(key, payload, sig) for key in keys for sig in signatures):
            raise PrivyApiError(401, "No valid authorization signatures were provided.",
                                "invalid_authorization_signature")

    # --- idempotency -------------------------------------------------------------------------------------

    async def idempotent(self, app: SimPrivyApp, request: Request, body: Any,
                         action: Callable[[], Awaitable[tuple[int, dict[str, Any]]]]) -> Response:
        key = request.headers.get("privy-idempotency-key")
        fingerprint = hashlib.sha256(
            json.dumps([request.method, request.url.path, body], sort_keys=True).encode()).hexdigest()
        if key is not None:
            with self.lock:
                stored = self.idempotency.get((app.app_id, key))
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise PrivyApiError(400, "This idempotency key was already used for a different request.",
                                        "idempotency_key_reused")
                return JSONResponse(stored.body, status_code=stored.status)
        # Actions never await, so on the one event loop no other request runs between the lookup and the store.
        status, answer = await action()
        if key is not None and status < 500:
            with self.lock:
                self.idempotency.setdefault((app.app_id, key), _Stored(fingerprint, status, answer))
                answer = self.idempotency[(app.app_id, key)].body
        return JSONResponse(answer, status_code=status)

    # --- operations --------------------------------------------------------------------------------------

    def create_wallet(self, app: SimPrivyApp, body: dict[str, Any]) -> dict[str, Any]:
        chain_type = body.get("chain_type")
        if chain_type not in ("solana", "ethereum"):
            raise PrivyApiError(400, f"Unsupported chain_type {chain_type!r}.", "invalid_data")
        owner_key: ec.EllipticCurvePublicKey | None = None
        owner_id: str | None = None
        owner = body.get("owner")
        if isinstance(owner, dict) and "public_key" in owner:
            try:
                owner_key = public_key_from_base64(str(owner["public_key"]))
            except ValueError as error:
                raise PrivyApiError(400, "owner.public_key is not a P-256 public key.", "invalid_data") from error
            # Privy wraps an owner key in a one-key quorum; the same key maps to the same quorum id.
            spki = public_key_to_base64(owner_key)
            owner_id = "kq_" + hashlib.sha256(spki.encode()).hexdigest()[:24]
            with self.lock:
                self.key_quorums[owner_id] = owner_key
        elif body.get("owner_id"):
            owner_id = str(body["owner_id"])
            with self.lock:
                owner_key = self.key_quorums.get(owner_id)
            if owner_key is None:
                raise PrivyApiError(400, f"Unknown key quorum {owner_id}.", "invalid_data")
        external_id = body.get("external_id")
        if external_id is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", str(external_id)):
            raise PrivyApiError(400, "external_id must be 1-64 URL-safe characters.", "invalid_data")
        wallet = _Wallet(id=_privy_id(), app_id=app.app_id, chain_type=chain_type, address="",
                         created_at_ms=self.world.clock.now_ms(), owner_key=owner_key, owner_id=owner_id,
                         external_id=external_id)
        if chain_type == "solana":
            wallet.solana = Keypair()
            wallet.address = str(wallet.solana.pubkey())
        else:
            wallet.evm = Account.create()
            wallet.address = wallet.evm.address
        with self.lock:
            self.wallets[wallet.id] = wallet
        return wallet.to_json()

    def wallet(self, app: SimPrivyApp, wallet_id: str) -> _Wallet:
        wallet = self.wallets.get(wallet_id)
        if wallet is None or wallet.app_id != app.app_id:
            raise PrivyApiError(404, f"Wallet {wallet_id} not found.", "not_found")
        return wallet

    def list_wallets(self, app: SimPrivyApp, query: dict[str, str]) -> list[dict[str, Any]]:
        """GET /v1/wallets filters (chain_type, external_id, address); one page, no cursor."""
        with self.lock:
            found = [w for w in self.wallets.values() if w.app_id == app.app_id]
        for name in ("chain_type", "external_id"):
            if name in query:
                found = [w for w in found if getattr(w, name) == query[name]]
        if "address" in query:
            found = [w for w in found if w.address.lower() == query["address"].lower()]
        return [w.to_json() for w in sorted(found, key=lambda w: w.created_at_ms)]

    def signer_keys(self, app: SimPrivyApp, wallet: _Wallet) -> list[ec.EllipticCurvePublicKey]:
        if wallet.owner_key is not None:
            return [wallet.owner_key]
        if app.authorization_public_key is not None:
            return [public_key_from_base64(app.authorization_public_key)]
        return []

    def rpc(self, wallet: _Wallet, body: dict[str, Any]) -> dict[str, Any]:
        method = body.get("method")
        params = body.get("params") or {}
        if body.get("address") is not None and str(body["address"]).lower() != wallet.address.lower():
            raise PrivyApiError(400, "The address does not match the wallet.", "invalid_data")
        if method == "signTransaction" and wallet.solana is not None:
            signed = sign_solana_transaction(wallet.solana, str(params.get("transaction", "")))
            return {"method": "signTransaction",
                    "data": {"signed_transaction": signed, "encoding": "base64"}}
        if method == "eth_signTransaction" and wallet.evm is not None:
            signed_tx = sign_evm_transaction(wallet.evm, params.get("transaction"))
            return {"method": "eth_signTransaction",
                    "data": {"signed_transaction": signed_tx, "encoding": "rlp"}}
        if method == "eth_signTypedData_v4" and wallet.evm is not None:
            signature = sign_typed_data(wallet.evm, params.get("typed_data"))
            return {"method": "eth_signTypedData_v4", "data": {"signature": signature, "encoding": "hex"}}
        raise PrivyApiError(400, f"Unsupported RPC method {method!r} for a {wallet.chain_type} wallet.",
                            "invalid_data")


def _privy_id() -> str:
    """Privy ids are 24-character lowercase cuids."""
    alphabet = string.ascii_lowercase + string.digits
    return "c" + "".join(secrets.choice(alphabet) for _ in range(23))


def sign_solana_transaction(keypair: Keypair, tx_base64: str) -> str:
    """Add the wallet's ed25519 signature at its signer slot; other signatures stay as they were."""
    try:
        raw = base64.b64decode(tx_base64, validate=True)
        tx: VersionedTransaction | Transaction
        try:
            tx = VersionedTransaction.from_bytes(raw)
            message_bytes = bytes(to_bytes_versioned(tx.message))
        except ValueError:
            tx = Transaction.from_bytes(raw)
            message_bytes = bytes(tx.message_data())
    except ValueError as error:
        raise PrivyApiError(400, "The transaction is not a valid base64 Solana transaction.",
                            "invalid_data") from error
    keys = list(tx.message.account_keys)
    required = tx.message.header.num_required_signatures
    if keypair.pubkey() not in keys[:required]:
        raise PrivyApiError(400, "The wallet is not a required signer of this transaction.", "invalid_data")
    signatures = list(tx.signatures)
    signatures[keys.index(keypair.pubkey())] = keypair.sign_message(message_bytes)
    signed = (VersionedTransaction.populate(tx.message, signatures) if isinstance(tx, VersionedTransaction)
              else Transaction.populate(tx.message, signatures))
    return base64.b64encode(bytes(signed)).decode("ascii")


# Privy's UnsignedStandardEthereumTransaction keys -> eth-account's.
_EVM_FIELDS = {"chain_id": "chainId", "nonce": "nonce", "to": "to", "value": "value", "data": "data",
               "gas_limit": "gas", "gas_price": "gasPrice", "max_fee_per_gas": "maxFeePerGas",
               "max_priority_fee_per_gas": "maxPriorityFeePerGas", "type": "type"}


def sign_evm_transaction(account: LocalAccount, transaction: Any) -> str:
    """eth_signTransaction: quantities may be integers or 0x-hex, as Privy accepts; returns 0x RLP."""
    if not isinstance(transaction, dict):
        raise PrivyApiError(400, "params.transaction is required.", "invalid_data")
    if transaction.get("from") and str(transaction["from"]).lower() != account.address.lower():
        raise PrivyApiError(400, "transaction.from is not this wallet.", "invalid_data")
    unsigned: dict[str, Any] = {}
    try:
        for key, value in transaction.items():
            if key == "from":
                continue
            name = _EVM_FIELDS[key]
            if name == "to":
                unsigned[name] = to_checksum_address(str(value))
            elif name == "data":
                unsigned[name] = str(value)
            else:
                unsigned[name] = int(value, 16) if isinstance(value, str) else int(value)
        signed = account.sign_transaction(unsigned)
    except (KeyError, TypeError, ValueError) as error:
        raise PrivyApiError(400, f"Invalid transaction: {error}", "invalid_data") from error
    return "0x" + bytes(signed.raw_transaction).hex()


_DOMAIN_FIELDS = (("name", "string"), ("version", "string"), ("chainId", "uint256"),
                  ("verifyingContract", "address"), ("salt", "bytes32"))


def sign_typed_data(account: LocalAccount, typed_data: Any) -> str:
    """eth_signTypedData_v4 on Privy's shape (primary_type); EIP712Domain derived from the domain if absent."""
    if not isinstance(typed_data, dict):
        raise PrivyApiError(400, "params.typed_data is required.", "invalid_data")
    try:
        types = dict(typed_data["types"])
        domain = dict(typed_data["domain"])
        if "EIP712Domain" not in types:
            types["EIP712Domain"] = [{"name": n, "type": t} for n, t in _DOMAIN_FIELDS if n in domain]
        full = {"types": types, "domain": domain, "message": typed_data["message"],
                "primaryType": typed_data.get("primary_type") or typed_data.get("primaryType")}
        signed = account.sign_message(encode_typed_data(full_message=full))
    except (KeyError, TypeError, ValueError) as error:
        raise PrivyApiError(400, f"Invalid typed data: {error}", "invalid_data") from error
    return "0x" + bytes(signed.signature).hex()


async def _apply_fault(world: SimWorld, call: str) -> tuple[bool, Response | None]:
    """(lose_response, early answer). Faults modelled as Privy would show them."""
    fault = world.faults.take(VENUE, call)
    if fault is None:
        return False, None
    if fault.kind is FaultKind.REJECT:
        return False, JSONResponse({"error": fault.message, "code": "invalid_data"}, status_code=400)
    if fault.kind is FaultKind.SERVER_ERROR:
        return False, JSONResponse({"error": fault.message, "code": "internal_error"}, status_code=500)
    if fault.kind is FaultKind.TIMEOUT:
        await asyncio.sleep(fault.delay_seconds or 30.0)
        return False, JSONResponse({"error": fault.message, "code": "timeout"}, status_code=504)
    if fault.kind is FaultKind.DELAY:
        await asyncio.sleep(fault.delay_seconds)
    return fault.kind is FaultKind.LOSE_RESPONSE, None


def build_app(sim: PrivySim) -> FastAPI:
    app = FastAPI(title="dnbot sim: Privy wallet API", docs_url=None, redoc_url=None)

    @app.exception_handler(PrivyApiError)
    async def privy_error(_request: Request, error: PrivyApiError) -> Response:
        return error.response()

    async def json_body(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError as error:
            raise PrivyApiError(400, "The request body is not JSON.", "invalid_data") from error
        if not isinstance(body, dict):
            raise PrivyApiError(400, "The request body must be a JSON object.", "invalid_data")
        return body

    @app.post("/v1/wallets")
    async def create_wallet(request: Request) -> Response:
        privy_app = sim.authenticate(request)
        sim.check_expiry(request)
        body = await json_body(request)
        lose, early = await _apply_fault(sim.world, "create_wallet")
        if early is not None:
            return early

        async def act() -> tuple[int, dict[str, Any]]:
            return 200, sim.create_wallet(privy_app, body)

        answer = await sim.idempotent(privy_app, request, body, act)
        return JSONResponse({"error": "lost response", "code": "timeout"}, status_code=504) if lose else answer

    @app.get("/v1/users/{user_id}")
    async def get_user(user_id: str, request: Request) -> Response:
        privy_app = sim.authenticate(request)
        _lose, early = await _apply_fault(sim.world, "get_user")
        if early is not None:
            return early
        return JSONResponse(sim.user(privy_app, user_id))

    @app.get("/api/v1/apps/{app_id}/jwks.json")
    async def jwks(app_id: str) -> Response:
        return JSONResponse(sim.jwks(app_id))

    @app.get("/v1/wallets")
    async def list_wallets(request: Request) -> Response:
        privy_app = sim.authenticate(request)
        _lose, early = await _apply_fault(sim.world, "list_wallets")
        if early is not None:
            return early
        return JSONResponse({"data": sim.list_wallets(privy_app, dict(request.query_params)), "next_cursor": None})

    @app.get("/v1/wallets/{wallet_id}")
    async def get_wallet(wallet_id: str, request: Request) -> Response:
        privy_app = sim.authenticate(request)
        _lose, early = await _apply_fault(sim.world, "get_wallet")
        if early is not None:
            return early
        return JSONResponse(sim.wallet(privy_app, wallet_id).to_json())

    @app.post("/v1/wallets/{wallet_id}/rpc")
    async def wallet_rpc(wallet_id: str, request: Request) -> Response:
        privy_app = sim.authenticate(request)
        wallet = sim.wallet(privy_app, wallet_id)
        body = await json_body(request)
        sim.check_signature(request, body, sim.signer_keys(privy_app, wallet))
        sim.check_expiry(request)
        lose, early = await _apply_fault(sim.world, str(body.get("method")))
        if early is not None:
            return early

        async def act() -> tuple[int, dict[str, Any]]:
            return 200, sim.rpc(wallet, body)

        answer = await sim.idempotent(privy_app, request, body, act)
        return JSONResponse({"error": "lost response", "code": "timeout"}, status_code=504) if lose else answer

    return app


class AppRegistration(BaseModel):
    app_id: str
    app_secret: str
    authorization_public_key: str | None = None


class LoginRequest(BaseModel):
    app_id: str
    email: str
    ttl_seconds: int = 3600


def build_control(sim: PrivySim) -> APIRouter:
    router = APIRouter()

    @router.post("/apps")
    def register_app(registration: AppRegistration) -> Response:
        try:
            sim.register_app(SimPrivyApp(registration.app_id, registration.app_secret,
                                         registration.authorization_public_key))
        except ValueError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse({"app_id": registration.app_id, "registered": True})

    @router.post("/login")
    def login(body: LoginRequest) -> Response:
        try:
            return JSONResponse(sim.login(body.app_id, body.email, body.ttl_seconds))
        except PrivyApiError as error:
            return error.response()

    @router.get("/apps/{app_id}/verification_key", response_class=PlainTextResponse)
    def verification_key(app_id: str) -> Response:
        try:
            return PlainTextResponse(sim.verification_key_pem(app_id))
        except PrivyApiError as error:
            return error.response()

    @router.delete("/idempotency")
    def forget_idempotency_keys() -> dict[str, int]:
        """Forget every idempotency key, as Privy does after its 24-hour window."""
        with sim.lock:
            count = len(sim.idempotency)
            sim.idempotency.clear()
        return {"forgotten": count}

    @router.get("/wallets")
    def list_wallets() -> list[dict[str, Any]]:
        with sim.lock:
            return [w.to_json() | {"app_id": w.app_id} for w in sim.wallets.values()]

    return router


def create_sim(world: SimWorld, apps: Iterable[SimPrivyApp] = ()) -> PrivySim:
    sim = PrivySim(world)
    for app in apps:
        sim.register_app(app)
    return sim


def create_venue(world: SimWorld, apps: Iterable[SimPrivyApp] = ()) -> Any:
    """The `/privy` venue for dnbot.sim.server (apps: registered up front, e.g. `dnbot local`'s own app)."""
    from dnbot.sim.venue import SimVenue

    sim = create_sim(world, apps)
    return SimVenue(prefix="/privy", app=build_app(sim), control=build_control(sim))
