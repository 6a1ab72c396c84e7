"""Login (email one-time code locally, Privy access token in the cloud), users, wallets and sessions.

Sessions: a random secret in an HttpOnly cookie, stored as its SHA-256; an absolute lifetime (24 h, 7 days with
"stay logged in") and an idle timeout; a new session id at every login (the one the browser held ends); logout
here or everywhere. Abuse limits are atomic counters (see RateLimiter) per (email, client) and per client; the
per-email ceiling on wrong codes lives with the code itself (dnbot.local.identity: the code is replaced, its owner
never locked out). A Privy access token is exchanged for a session once (its sid/iat remembered until it expires).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from http.cookies import CookieError, SimpleCookie
from typing import Protocol

from dnbot.ports import (
    AccessTokenVerifier,
    Clock,
    CodeReplaced,
    IdentityProvider,
    LoginRejected,
    SessionRecord,
    SessionStore,
    UserRecord,
    UserStore,
    VerifiedIdentity,
    WalletProvisioner,
)
from dnbot.services.errors import ServiceError, TooManyRequests, Unauthorized

LOGIN_WINDOW = timedelta(minutes=15)
CODES_CHECKED_PER_EMAIL_AND_CLIENT = 5  # per LOGIN_WINDOW
CODES_SENT_PER_EMAIL_AND_CLIENT = 5
CODES_SENT_PER_EMAIL = 10  # all clients together: an inbox is not flooded
SESSION_EXCHANGES_PER_CLIENT = 30  # /auth/privy, per LOGIN_WINDOW
TOUCH_EVERY = timedelta(minutes=1)  # last-seen writes at most this often per session
SESSION_COOKIE = "dnbot_session"
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-]+")


def is_token_text(value: str, max_length: int = 512) -> bool:
    """Session cookies and CSRF tokens are URL-safe base64: anything else (odd bytes, huge values) is refused
    before it reaches a comparison or a database key."""
    return 0 < len(value) <= max_length and _TOKEN_CHARS.fullmatch(value) is not None


def well_formed_session(value: str | None) -> str | None:
    """The session cookie's value if it is well formed; a malformed one counts as no session."""
    return value if value is not None and is_token_text(value) else None


def session_from_cookie_header(header: str) -> str | None:
    """The session cookie of a raw Cookie header (a WebSocket upgrade seen by Lambda), if well formed."""
    try:
        cookie = SimpleCookie(header)
    except CookieError:
        return None
    return well_formed_session(cookie[SESSION_COOKIE].value if SESSION_COOKIE in cookie else None)


class Decision(Protocol):
    @property
    def allowed(self) -> bool: ...

    @property
    def retry_after_seconds(self) -> int: ...


class RateLimiter(Protocol):
    def hit(self, scope: str, key: str, limit: int, window: timedelta) -> Decision:
        """Count one event; refused (without counting) once `limit` were counted in this window. Atomic."""
        ...


class SingleUse(Protocol):
    def claim_once(self, kind: str, identifier: str, remember_until: datetime) -> bool: ...


class AuditTrail(Protocol):
    def record(self, action: str, *, user_id: str | None, client: str, detail: dict[str, str]) -> None: ...


def limit(limiter: RateLimiter, scope: str, key: str, count: int, window: timedelta, message: str) -> None:
    decision = limiter.hit(scope, key, count, window)
    if not decision.allowed:
        raise TooManyRequests(message, retry_after_seconds=decision.retry_after_seconds)


def _client_key(email: str, client: str) -> str:
    return hashlib.sha256(f"{email.lower()}|{client}".encode()).hexdigest()[:32]


def _email_key(email: str) -> str:
    return hashlib.sha256(email.lower().encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: UserRecord
    session: SessionRecord
    is_new_user: bool


class AuthService:
    def __init__(self, users: UserStore, sessions: SessionStore, limiter: RateLimiter, once: SingleUse,
                 wallets: WalletProvisioner, clock: Clock, *, identity: IdentityProvider | None,
                 token_verifier: AccessTokenVerifier | None, session_ttl: timedelta,
                 remembered_session_ttl: timedelta, idle_timeout: timedelta, audit: AuditTrail | None = None) -> None:
        self._users = users
        self._sessions = sessions
        self._limiter = limiter
        self._once = once
        self._wallets = wallets
        self._clock = clock
        self._identity = identity
        self._token_verifier = token_verifier
        self._session_ttl = session_ttl
        self._remembered_session_ttl = remembered_session_ttl
        self._idle_timeout = idle_timeout
        self._audit = audit

    # --- email one-time code (local identity provider) -------------------------------------------------

    def _email_provider(self) -> IdentityProvider:
        if self._identity is None:
            raise ServiceError("Email codes are sent by Privy here: log in through the dashboard.",
                               code="use_privy_login")
        return self._identity

    def start_email_login(self, email: str, client: str = "") -> None:
        provider = self._email_provider()
        limit(self._limiter, "login-start", _client_key(email, client), CODES_SENT_PER_EMAIL_AND_CLIENT, LOGIN_WINDOW,
              "Too many codes requested for this address; wait a few minutes.")
        limit(self._limiter, "login-start-email", _email_key(email), CODES_SENT_PER_EMAIL, LOGIN_WINDOW,
              "Too many codes requested for this address; wait a few minutes.")
        provider.start_email_login(email)

    def verify_email_code(self, email: str, code: str, *, client: str = "", remember: bool = False,
                          replacing: str | None = None) -> LoginResult:
        provider = self._email_provider()
        limit(self._limiter, "login-verify", _client_key(email, client), CODES_CHECKED_PER_EMAIL_AND_CLIENT,
              LOGIN_WINDOW, "Too many login attempts for this address; wait 15 minutes.")
        try:
            identity = provider.verify_email_code(email, code)
        except LoginRejected as rejected:
            self._record("login_failed", None, client, {"email": email.lower(), "reason": str(rejected)})
            if isinstance(rejected, CodeReplaced):
                raise TooManyRequests(str(rejected), code="code_replaced", retry_after_seconds=1) from rejected
            raise Unauthorized(str(rejected), code="invalid_code") from rejected
        return self._log_in(identity, remember, client, replacing, "email_code")

    # --- Privy -------------------------------------------------------------------------------------------

    def login_with_privy(self, access_token: str, *, client: str = "", remember: bool = False,
                         replacing: str | None = None) -> LoginResult:
        if self._token_verifier is None:
            raise ServiceError("Privy login is not configured on this deployment.", code="privy_not_configured")
        limit(self._limiter, "session-exchange", hashlib.sha256(client.encode()).hexdigest()[:32],
              SESSION_EXCHANGES_PER_CLIENT, LOGIN_WINDOW, "Too many logins from here; wait a few minutes.")
        try:
            identity = self._token_verifier.verify(access_token)
        except LoginRejected as rejected:
            self._record("session_exchange_failed", None, client, {"reason": str(rejected)})
            raise Unauthorized(str(rejected), code="invalid_token") from rejected
        token_id = identity.token_id or hashlib.sha256(access_token.encode()).hexdigest()
        remember_until = identity.token_expires_at or self._clock.now() + timedelta(hours=1)
        if not self._once.claim_once("privy-token", hashlib.sha256(token_id.encode()).hexdigest(), remember_until):
            self._record("session_exchange_replayed", None, client, {"email": identity.email})
            raise Unauthorized("This login was already used; log in again.", code="token_already_used")
        return self._log_in(identity, remember, client, replacing, "privy")

    # --- sessions ------------------------------------------------------------------------------------------

    def _log_in(self, identity: VerifiedIdentity, remember: bool, client: str, replacing: str | None,
                method: str) -> LoginResult:
        now = self._clock.now()
        user = self._users.find_user_by_email(identity.email)
        is_new = user is None
        if user is None:
            user = UserRecord(user_id=uuid.uuid4().hex, email=identity.email.lower(), created_at=now)
        if user.solana_address is None or user.evm_address is None:
            wallets = self._wallets.wallets_for(user.user_id)
            user = replace(user, solana_address=wallets.solana_address, evm_address=wallets.evm_address)
            self._users.put_user(user)
        if replacing:  # a new id at every login: a session fixed before it (or an old one) ends here
            self._sessions.delete_session(replacing)
        ttl = self._remembered_session_ttl if remember else self._session_ttl
        session = SessionRecord(session_id=secrets.token_urlsafe(32), user_id=user.user_id, created_at=now,
                                expires_at=now + ttl, csrf_token=secrets.token_urlsafe(24), last_seen_at=now)
        self._sessions.create_session(session)
        self._record("login", user.user_id, client, {"method": method, "remember": str(remember).lower()})
        return LoginResult(user=user, session=session, is_new_user=is_new)

    def authenticate(self, session_id: str | None) -> tuple[UserRecord, SessionRecord]:
        if not session_id:
            raise Unauthorized("Log in first.", code="not_logged_in")
        session = self._sessions.get_session(session_id)
        if session is None:
            raise Unauthorized("Your session has expired; log in again.", code="session_expired")
        now = self._clock.now()
        last_seen = session.last_seen_at or session.created_at
        if now - last_seen >= self._idle_timeout:
            self._sessions.delete_session(session_id)
            raise Unauthorized("You were away too long; log in again.", code="session_expired")
        if now - last_seen >= TOUCH_EVERY:
            self._sessions.touch_session(session_id, now)
        user = self._users.get_user(session.user_id)
        if user is None:
            raise Unauthorized("This account no longer exists.", code="unknown_user")
        return user, session

    def viewer(self, cookie_header: str) -> str | None:
        """Who opens a WebSocket, from the raw Cookie header: the logged-in user's id, or None for anyone else."""
        try:
            return self.authenticate(session_from_cookie_header(cookie_header))[0].user_id
        except Unauthorized:
            return None

    def rotate(self, session: SessionRecord) -> SessionRecord:
        """A new session id (and CSRF token) for the same login, the old one ended: on a privilege change."""
        now = self._clock.now()
        fresh = replace(session, session_id=secrets.token_urlsafe(32), csrf_token=secrets.token_urlsafe(24),
                        last_seen_at=now)
        self._sessions.create_session(fresh)
        self._sessions.delete_session(session.session_id)
        return fresh

    def log_out(self, session_id: str, *, everywhere: bool = False, user_id: str | None = None,
                client: str = "") -> int:
        if everywhere and user_id is not None:
            ended = self._sessions.delete_user_sessions(user_id)
        else:
            self._sessions.delete_session(session_id)
            ended = 1
        self._record("logout", user_id, client, {"everywhere": str(everywhere).lower(), "sessions": str(ended)})
        return ended

    def _record(self, action: str, user_id: str | None, client: str, detail: dict[str, str]) -> None:
        if self._audit is not None:
            self._audit.record(action, user_id=user_id, client=client, detail=detail)
