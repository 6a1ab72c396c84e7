"""Login (email one-time code locally, Privy access token in the cloud), users, wallets and sessions."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Protocol

from dnbot.ports import (
    AccessTokenVerifier,
    Clock,
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

LOGIN_ATTEMPTS_PER_WINDOW = 5
LOGIN_WINDOW = timedelta(minutes=15)


class AttemptCounter(Protocol):
    def increment_in_window(self, pk: str, sk: str, window: timedelta) -> int: ...


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: UserRecord
    session: SessionRecord
    is_new_user: bool


class AuthService:
    def __init__(self, users: UserStore, sessions: SessionStore, attempts: AttemptCounter,
                 wallets: WalletProvisioner, clock: Clock, *, identity: IdentityProvider | None,
                 token_verifier: AccessTokenVerifier | None, session_ttl: timedelta,
                 remembered_session_ttl: timedelta) -> None:
        self._users = users
        self._sessions = sessions
        self._attempts = attempts
        self._wallets = wallets
        self._clock = clock
        self._identity = identity
        self._token_verifier = token_verifier
        self._session_ttl = session_ttl
        self._remembered_session_ttl = remembered_session_ttl

    # --- email one-time code (local identity provider) -------------------------------------------------

    def _email_provider(self) -> IdentityProvider:
        if self._identity is None:
            raise ServiceError("Email codes are sent by Privy here: log in through the dashboard.",
                               code="use_privy_login")
        return self._identity

    def _limit(self, email: str, action: str) -> None:
        count = self._attempts.increment_in_window(f"LOGIN#{email.lower()}", action, LOGIN_WINDOW)
        if count > LOGIN_ATTEMPTS_PER_WINDOW:
            raise TooManyRequests("Too many login attempts for this address; wait 15 minutes.")

    def start_email_login(self, email: str) -> None:
        provider = self._email_provider()
        self._limit(email, "start")
        provider.start_email_login(email)

    def verify_email_code(self, email: str, code: str, *, remember: bool = False) -> LoginResult:
        provider = self._email_provider()
        self._limit(email, "verify")
        try:
            identity = provider.verify_email_code(email, code)
        except LoginRejected as rejected:
            raise Unauthorized(str(rejected), code="invalid_code") from rejected
        return self._log_in(identity, remember)

    # --- Privy -------------------------------------------------------------------------------------------

    def login_with_privy(self, access_token: str, *, remember: bool = False) -> LoginResult:
        if self._token_verifier is None:
            raise ServiceError("Privy login is not configured on this deployment.", code="privy_not_configured")
        try:
            identity = self._token_verifier.verify(access_token)
        except LoginRejected as rejected:
            raise Unauthorized(str(rejected), code="invalid_token") from rejected
        return self._log_in(identity, remember)

    # --- sessions ------------------------------------------------------------------------------------------

    def _log_in(self, identity: VerifiedIdentity, remember: bool) -> LoginResult:
        now = self._clock.now()
        user = self._users.find_user_by_email(identity.email)
        is_new = user is None
        if user is None:
            user = UserRecord(user_id=uuid.uuid4().hex, email=identity.email.lower(), created_at=now)
        if user.solana_address is None or user.evm_address is None:
            wallets = self._wallets.wallets_for(user.user_id)
            user = replace(user, solana_address=wallets.solana_address, evm_address=wallets.evm_address)
            self._users.put_user(user)
        ttl = self._remembered_session_ttl if remember else self._session_ttl
        session = SessionRecord(session_id=secrets.token_urlsafe(32), user_id=user.user_id, created_at=now,
                                expires_at=now + ttl, csrf_token=secrets.token_urlsafe(24))
        self._sessions.create_session(session)
        return LoginResult(user=user, session=session, is_new_user=is_new)

    def authenticate(self, session_id: str | None) -> tuple[UserRecord, SessionRecord]:
        if not session_id:
            raise Unauthorized("Log in first.", code="not_logged_in")
        session = self._sessions.get_session(session_id)
        if session is None:
            raise Unauthorized("Your session has expired; log in again.", code="session_expired")
        user = self._users.get_user(session.user_id)
        if user is None:
            raise Unauthorized("This account no longer exists.", code="unknown_user")
        return user, session

    def log_out(self, session_id: str) -> None:
        self._sessions.delete_session(session_id)
