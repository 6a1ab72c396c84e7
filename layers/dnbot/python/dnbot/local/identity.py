"""The local identity provider: Privy's email one-time code, with the code printed to the terminal."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from dnbot.ports import LoginRejected, VerifiedIdentity

CODE_LIFETIME = timedelta(minutes=10)


class ExpiringItems(Protocol):
    def put_expiring(self, pk: str, sk: str, attributes: dict[str, Any], expires_at: datetime) -> None: ...

    def get_unexpired(self, pk: str, sk: str) -> dict[str, Any] | None: ...

    def delete(self, pk: str, sk: str) -> None: ...


def _digest(email: str, code: str) -> str:
    return hashlib.sha256(f"{email.lower()}:{code}".encode()).hexdigest()


class LocalEmailCodes:
    """Implements IdentityProvider. Codes are stored hashed, expire, and work once."""

    def __init__(self, items: ExpiringItems, now: Callable[[], datetime],
                 announce: Callable[[str, str], None]) -> None:
        self._items = items
        self._now = now
        self._announce = announce

    def start_email_login(self, email: str) -> None:
        code = f"{secrets.randbelow(1_000_000):06d}"
        self._items.put_expiring(f"OTP#{email.lower()}", "OTP", {"digest": _digest(email, code)},
                                 self._now() + CODE_LIFETIME)
        self._announce(email, code)

    def verify_email_code(self, email: str, code: str) -> VerifiedIdentity:
        stored = self._items.get_unexpired(f"OTP#{email.lower()}", "OTP")
        if stored is None or not hmac.compare_digest(stored["digest"], _digest(email, code)):
            raise LoginRejected("That code is wrong or has expired.")
        self._items.delete(f"OTP#{email.lower()}", "OTP")
        subject = "local:" + hashlib.sha256(email.lower().encode()).hexdigest()[:24]
        return VerifiedIdentity(subject=subject, email=email.lower())
