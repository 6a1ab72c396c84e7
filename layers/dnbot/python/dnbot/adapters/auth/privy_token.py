"""Privy access tokens: the browser logs in with Privy (email OTP) and sends us its access token; we verify it.

A Privy access token is an ES256 JWT signed by the app's key pair at Privy: `iss` = "privy.io", `aud` = the
app id, `sub` = the user's Privy DID, `sid` = the session, `iat`/`exp`. We pin the algorithm to ES256 (so an
HS256 token "signed" with the public key, or `alg: none`, is refused), require iss, aud, sub, iat and exp, and
allow a small clock leeway.

The access token carries no email. The email comes from one of:
- `verify_identity_token(id_token)`: Privy's identity token (same key, same claims) carries `linked_accounts`
  (a JSON string) from which we take the email account's address; or
- `verify(access_token)`: the `email_lookup(did)` callable given to the constructor, e.g.
  `privy_users_email_lookup(PrivyClient)` (server-side GET /v1/users/{did}).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jwt

from dnbot.ports import LoginRejected, VerifiedIdentity

PRIVY_ISSUER = "privy.io"
DEFAULT_LEEWAY_SECONDS = 30


def privy_jwks_url(app_id: str) -> str:
    return f"https://auth.privy.io/api/v1/apps/{app_id}/jwks.json"


class _InjectedJWKClient(jwt.PyJWKClient):
    """PyJWKClient whose HTTP fetch is a callable (tests, or an httpx-based fetch with our timeouts)."""

    def __init__(self, uri: str, fetch: Callable[[str], dict[str, Any]]) -> None:
        super().__init__(uri, cache_keys=True)
        self._fetch = fetch

    def fetch_data(self) -> Any:
        data = self._fetch(self.uri)
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(data)
        return data


def _normalize_pem(pem: str) -> str:
    """The dashboard's verification key is a PEM; settings may carry it on one line with literal \\n."""
    text = pem.strip().replace("\\n", "\n")
    if "\n" not in text and text.startswith("-----BEGIN PUBLIC KEY-----"):
        body = text.removeprefix("-----BEGIN PUBLIC KEY-----").removesuffix("-----END PUBLIC KEY-----").strip()
        text = f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----"
    return text


EmailLookup = Callable[[str], str | None]


class PrivyAccessTokenVerifier:
    """Implements AccessTokenVerifier.

    app_id: the Privy app id (the tokens' audience).
    verification_key: PEM of the app's ES256 public key (Privy dashboard); or
    jwks_url (+ optional jwks_fetch(url) -> JWKS dict): Privy's JWKS endpoint, keys picked by `kid`.
    email_lookup: did -> email, for `verify` (access tokens carry no email).
    """

    def __init__(self, app_id: str, *, verification_key: str | None = None, jwks_url: str | None = None,
                 jwks_fetch: Callable[[str], dict[str, Any]] | None = None,
                 email_lookup: EmailLookup | None = None,
                 leeway_seconds: int = DEFAULT_LEEWAY_SECONDS) -> None:
        if verification_key is None and jwks_url is None:
            raise ValueError("give the app's verification key (PEM) or a JWKS URL")
        self._app_id = app_id
        self._key = _normalize_pem(verification_key) if verification_key is not None else None
        self._jwks: jwt.PyJWKClient | None = None
        if jwks_url is not None:
            self._jwks = (_InjectedJWKClient(jwks_url, jwks_fetch) if jwks_fetch is not None
                          else jwt.PyJWKClient(jwks_url, cache_keys=True, timeout=5))
        self._email_lookup = email_lookup
        self._leeway = leeway_seconds

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims, or LoginRejected."""
        try:
            key: Any = self._key
            if key is None:
                assert self._jwks is not None
                key = self._jwks.get_signing_key_from_jwt(token).key
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=["ES256"], audience=self._app_id, issuer=PRIVY_ISSUER,
                leeway=self._leeway, options={"require": ["iss", "aud", "sub", "iat", "exp"]})
        except jwt.PyJWTError as error:
            raise LoginRejected(f"the Privy token is not valid: {error}") from error
        if not str(claims["sub"]).startswith("did:privy:"):
            raise LoginRejected("the Privy token's subject is not a Privy DID")
        return claims

    def verify(self, access_token: str) -> VerifiedIdentity:
        claims = self.claims(access_token)
        subject = str(claims["sub"])
        email = self._email_lookup(subject) if self._email_lookup is not None else None
        if not email:
            raise LoginRejected(f"no email address is linked to Privy user {subject}")
        # The token's identity (its session and issue time): the caller exchanges each token once.
        return VerifiedIdentity(subject=subject, email=email.lower(),
                                token_id=f"{subject}|{claims.get('sid', '')}|{claims['iat']}",
                                token_expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC))

    def verify_identity_token(self, identity_token: str) -> VerifiedIdentity:
        """Privy's identity token: the same checks, and the email from its `linked_accounts` claim."""
        claims = self.claims(identity_token)
        email = email_from_linked_accounts(claims.get("linked_accounts"))
        if not email:
            raise LoginRejected(f"no email address is linked to Privy user {claims['sub']}")
        return VerifiedIdentity(subject=str(claims["sub"]), email=email.lower())


def email_from_linked_accounts(linked_accounts: Any) -> str | None:
    """The email account's address in Privy's `linked_accounts` (a JSON string in identity tokens, or a list)."""
    accounts = json.loads(linked_accounts) if isinstance(linked_accounts, str) else linked_accounts
    if not isinstance(accounts, list):
        return None
    for account in accounts:
        if isinstance(account, dict) and account.get("type") == "email":
            address = account.get("address")
            if isinstance(address, str) and address:
                return address
    return None


def privy_users_email_lookup(client: Any) -> EmailLookup:
    """did -> email through privy-client's `client.users.get(did)` (linked accounts of type email)."""

    def lookup(did: str) -> str | None:
        user = client.users.get(did)
        accounts = [a.model_dump() if hasattr(a, "model_dump") else a for a in user.linked_accounts]
        return email_from_linked_accounts(accounts)

    return lookup
