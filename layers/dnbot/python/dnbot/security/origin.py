"""The CloudFront origin check shared by the HTTP API (dnbot.api.edge) and the WebSocket $connect function:
CloudFront adds a secret header, so a request that reached API Gateway's own endpoint directly is refused.
Standard library only: the WebSocket function is a light Lambda and must not import FastAPI for this."""

from __future__ import annotations

import hmac

ORIGIN_VERIFY_HEADER = "X-Origin-Verify"


def origin_verified(sent: str, expected: str | None) -> bool:
    """True when no secret is configured (dnbot local) or the header carries it (compared in constant time)."""
    return expected is None or hmac.compare_digest(sent.encode("utf-8", "replace"), expected.encode())
