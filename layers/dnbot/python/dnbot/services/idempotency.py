"""Idempotent starts: the `Idempotency-Key` request header, with the IETF draft's semantics
(draft-ietf-httpapi-idempotency-key-header).

- The same key with the same request (method, path, body) within 24 h returns the first answer, status and body,
  and starts nothing new.
- The same key with another request is refused: 422.
- The same key while its first request is still running: 409 (retry later).
Keys are scoped per user: two users may pick the same key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from dnbot.ports import IdempotencyStore
from dnbot.services.errors import Conflict, ServiceError

# A request that dies without an answer (a crashed Lambda) frees its key for a retry after this long.
IN_FLIGHT_LEASE = timedelta(seconds=60)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as a header value; UUIDs fit

Answer = tuple[int, dict[str, Any]]


class IdempotencyKeyReused(ServiceError):
    status = 422
    code = "idempotency_key_reused"


def fingerprint(method: str, path: str, body: dict[str, Any]) -> str:
    canonical = json.dumps({"method": method, "path": path, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotentStarts:
    def __init__(self, store: IdempotencyStore) -> None:
        self._store = store

    def run(self, user_id: str, key: str | None, request_fingerprint: str, start: Callable[[], Answer]) -> Answer:
        """`start()` once per (user, key); its answer (or its ServiceError, as the API shapes it) is kept."""
        if key is None:
            return start()
        if not _KEY.match(key):
            raise ServiceError("Idempotency-Key must be 1-255 visible ASCII characters.",
                               code="invalid_idempotency_key")
        existing = self._store.claim(user_id, key, request_fingerprint, IN_FLIGHT_LEASE)
        if existing is not None:
            if existing.fingerprint != request_fingerprint:
                raise IdempotencyKeyReused("This Idempotency-Key was used for another request; use a new key.")
            if existing.status_code is None or existing.body is None:
                raise Conflict("A request with this Idempotency-Key is still being processed; retry shortly.",
                               code="idempotency_key_in_flight")
            return existing.status_code, existing.body
        try:
            answer = start()
        except ServiceError as error:  # a refusal is an answer too: the same request is refused the same way
            self._store.complete(user_id, key, error.status,
                                 {"error": {"code": error.code, "message": str(error)}})
            raise
        except Exception:
            self._store.release(user_id, key)
            raise
        self._store.complete(user_id, key, *answer)
        return answer
