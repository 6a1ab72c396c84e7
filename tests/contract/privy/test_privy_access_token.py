"""Privy access-token verification with locally generated ES256 keys (no network)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from privy import PrivyClient

from dnbot.adapters.auth.privy_token import (
    PrivyAccessTokenVerifier,
    email_from_linked_accounts,
    privy_jwks_url,
    privy_users_email_lookup,
)
from dnbot.ports import LoginRejected, VerifiedIdentity

APP_ID = "cm4kre2gy00kgb8m1yp6u1dm2"
DID = "did:privy:cm4ksi3gd00cwm5xqm5n5bcme"
KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_PEM = KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
EMAILS = {DID: "Alice@Example.com"}


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sid": "cm4session", "iss": "privy.io", "iat": now, "aud": APP_ID, "sub": DID,
                              "exp": now + 3600}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _token(key: ec.EllipticCurvePrivateKey = KEY, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
    return jwt.encode(_claims(**overrides), key, algorithm="ES256", headers=headers)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def verifier() -> PrivyAccessTokenVerifier:
    return PrivyAccessTokenVerifier(APP_ID, verification_key=PUBLIC_PEM, email_lookup=EMAILS.get)


def test_a_valid_token_gives_the_did_and_the_looked_up_email(verifier: PrivyAccessTokenVerifier) -> None:
    issued = int(time.time()) - 10
    identity = verifier.verify(_token(iat=issued, exp=issued + 3600))
    assert (identity.subject, identity.email) == (DID, "alice@example.com")
    # what the session exchange remembers so a token is used once: its session and issue time, until it expires
    assert identity.token_id == f"{DID}|cm4session|{issued}"
    assert identity.token_expires_at is not None and int(identity.token_expires_at.timestamp()) == issued + 3600


def test_the_pem_may_come_on_one_line_from_settings() -> None:
    one_line = PUBLIC_PEM.strip().replace("\n", "\\n")
    assert PrivyAccessTokenVerifier(APP_ID, verification_key=one_line, email_lookup=EMAILS.get) \
        .verify(_token()).subject == DID


def test_an_expired_token_is_refused_beyond_the_leeway(verifier: PrivyAccessTokenVerifier) -> None:
    now = int(time.time())
    with pytest.raises(LoginRejected, match="expired"):
        verifier.verify(_token(iat=now - 7200, exp=now - 120))
    assert verifier.verify(_token(iat=now - 7200, exp=now - 10)).subject == DID  # within 30 s leeway


def test_wrong_audience_or_issuer_is_refused(verifier: PrivyAccessTokenVerifier) -> None:
    with pytest.raises(LoginRejected, match=r"(?i)audience"):
        verifier.verify(_token(aud="another-app"))
    with pytest.raises(LoginRejected, match=r"(?i)issuer"):
        verifier.verify(_token(iss="evil.io"))


def test_required_claims_must_be_present(verifier: PrivyAccessTokenVerifier) -> None:
    for missing in ("exp", "iat", "sub"):
        with pytest.raises(LoginRejected):
            verifier.verify(jwt.encode({k: v for k, v in _claims().items() if k != missing}, KEY,
                                       algorithm="ES256"))
    with pytest.raises(LoginRejected, match="DID"):
        verifier.verify(_token(sub="someone-else"))


def test_hs256_signed_with_the_public_key_is_refused(verifier: PrivyAccessTokenVerifier) -> None:
    # The classic algorithm-confusion forgery: HMAC keyed with the (public) verification key.
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps(_claims()).encode())
    mac = hmac.new(PUBLIC_PEM.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(LoginRejected, match="alg value is not allowed"):
        verifier.verify(f"{header}.{payload}.{_b64url(mac)}")


def test_alg_none_is_refused(verifier: PrivyAccessTokenVerifier) -> None:
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps(_claims()).encode())
    with pytest.raises(LoginRejected):
        verifier.verify(f"{header}.{payload}.")


def test_a_tampered_payload_or_a_foreign_key_is_refused(verifier: PrivyAccessTokenVerifier) -> None:
    header, _payload, signature = _token().split(".")
    forged = _b64url(json.dumps(_claims(sub="did:privy:mallory")).encode())
    with pytest.raises(LoginRejected, match=r"[Ss]ignature"):
        verifier.verify(f"{header}.{forged}.{signature}")
    with pytest.raises(LoginRejected, match=r"[Ss]ignature"):
        verifier.verify(_token(key=ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(LoginRejected):
        verifier.verify("not-a-jwt")


def test_no_email_means_no_login() -> None:
    verifier = PrivyAccessTokenVerifier(APP_ID, verification_key=PUBLIC_PEM, email_lookup=lambda _did: None)
    with pytest.raises(LoginRejected, match="no email"):
        verifier.verify(_token())


def test_identity_token_carries_the_email_in_linked_accounts(verifier: PrivyAccessTokenVerifier) -> None:
    linked = json.dumps([{"type": "wallet", "address": "0xabc"},
                         {"type": "email", "address": "Bob@Example.com", "verified_at": 1}])
    identity = verifier.verify_identity_token(_token(linked_accounts=linked))
    assert identity == VerifiedIdentity(subject=DID, email="bob@example.com")
    assert email_from_linked_accounts([{"type": "phone", "number": "+1"}]) is None


def test_jwks_url_with_an_injected_fetch_selects_the_key_by_kid() -> None:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(KEY.public_key()))
    other = ec.generate_private_key(ec.SECP256R1())
    other_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(other.public_key()))
    fetched: list[str] = []

    def fetch(url: str) -> dict[str, Any]:
        fetched.append(url)
        return {"keys": [dict(other_jwk, kid="old", alg="ES256", use="sig"),
                         dict(jwk, kid="current", alg="ES256", use="sig")]}

    verifier = PrivyAccessTokenVerifier(APP_ID, jwks_url=privy_jwks_url(APP_ID), jwks_fetch=fetch,
                                        email_lookup=EMAILS.get)
    assert verifier.verify(_token(headers={"kid": "current"})).subject == DID
    assert fetched == [f"https://auth.privy.io/api/v1/apps/{APP_ID}/jwks.json"]
    with pytest.raises(LoginRejected):  # a token signed by a key whose kid names another JWKS entry
        verifier.verify(_token(key=other, headers={"kid": "current"}))
    with pytest.raises(LoginRejected):
        verifier.verify(_token(headers={"kid": "unknown"}))


def test_users_lookup_through_privy_client_reads_the_email_account() -> None:
    user = {"id": DID, "created_at": 1731974400, "has_accepted_terms": True, "is_guest": False,
            "mfa_methods": [],
            "linked_accounts": [
                {"type": "email", "address": "carol@example.com", "verified_at": 1731974400,
                 "first_verified_at": 1731974400, "latest_verified_at": 1731974400}]}
    with respx.mock(assert_all_called=True) as router, \
            PrivyClient(app_id=APP_ID, app_secret="secret", base_url="https://privy.test") as client:
        route = router.get(f"https://privy.test/v1/users/{DID}").mock(return_value=httpx.Response(200, json=user))
        verifier = PrivyAccessTokenVerifier(APP_ID, verification_key=PUBLIC_PEM,
                                            email_lookup=privy_users_email_lookup(client))
        identity = verifier.verify(_token())
        assert (identity.subject, identity.email) == (DID, "carol@example.com")
        assert route.calls.last.request.headers["privy-app-id"] == APP_ID
