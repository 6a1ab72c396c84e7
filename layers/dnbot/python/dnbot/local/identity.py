"""The local identity provider: Privy's email one-time code, with the code printed to the terminal."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from dnbot.ports import CodeReplaced, LoginRejected, VerifiedIdentity

CODE_LIFETIME = timedelta(minutes=10)


MAX_CHECKS_PER_CODE = 5  # wrong guesses one code survives, across every client, before it is replaced


class ExpiringItems(Protocol):
    def put_expiring(self, pk: str, sk: str, attributes: dict[str, Any], expires_at: datetime) -> None: ...

    def get_unexpired(self, pk: str, sk: str) -> dict[str, Any] | None: ...

    def count_use(self, pk: str, sk: str, attribute: str, limit: int) -> bool: ...

    def delete_if(self, pk: str, sk: str, attribute: str, value: Any) -> bool: ...


def _digest(email: str, code: str) -> str:
    return hashlib.sha256(f"{email.lower()}:{code}".encode()).hexdigest()


class LocalEmailCodes:
    """Implements IdentityProvider. Codes are stored hashed, expire, work once, and survive at most
    MAX_CHECKS_PER_CODE checks (counted atomically, so parallel guesses cannot exceed it); then the code is
    replaced by a fresh one sent to the owner, so an attacker elsewhere burns codes but never locks the owner out."""

    def __init__(self, items: ExpiringItems, now: Callable[[], datetime],
                 announce: Callable[[str, str], None]) -> None:
        self._items = items
        self._now = now
        self._announce = announce

    def start_email_login(self, email: str) -> None:
        code = f"{secrets.randbelow(1_000_000):06d}"
        self._items.put_expiring(f"OTP#{email.lower()}", "OTP",
                                 {"digest": _digest(email, code), "generation": secrets.token_hex(8), "checks": 0},
                                 self._now() + CODE_LIFETIME)
        self._announce(email, code)

    def verify_email_code(self, email: str, code: str) -> VerifiedIdentity:
        key = (f"OTP#{email.lower()}", "OTP")
        stored = self._items.get_unexpired(*key)
        if stored is None:
            raise LoginRejected("That code is wrong or has expired.")
        if not self._items.count_use(*key, "checks", MAX_CHECKS_PER_CODE):
            if self._items.delete_if(*key, "generation", stored["generation"]):  # one request replaces it
                self.start_email_login(email)
                raise CodeReplaced("Too many wrong codes for this address: we sent a fresh code to its inbox.")
            raise LoginRejected("That code is wrong or has expired.")  # used, or replaced, meanwhile
        expected = _digest(email, code)
        if not hmac.compare_digest(stored["digest"], expected):
            raise LoginRejected("That code is wrong or has expired.")
        if not self._items.delete_if(*key, "digest", expected):  # single use, even for parallel right guesses
            raise LoginRejected("That code is wrong or has expired.")
        subject = "local:" + hashlib.sha256(email.lower().encode()).hexdigest()[:24]
        return VerifiedIdentity(subject=subject, email=email.lower())
