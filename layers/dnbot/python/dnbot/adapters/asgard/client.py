"""Asgard's margin-trading HTTP API (github.com/asgard-finance/api-docs), with its errors mapped to the ports'.

Error mapping (dnbot.ports):
- TransientVenueError: could not connect; 429; 503; a timeout or 5xx on a call that changes nothing (the
  builders, the reads); a `BLOCKHASH_EXPIRED` refusal (rebuild and sign again).
- AmbiguousVenueError: a timeout, a dropped connection, 500/502/504 on a submit-* call: the signed
  transaction may have landed. Reconcile (by the transaction signature) before anything else.
- VenueRejected: any other 4xx with Asgard's `{"error": {"name", "code", "message", "details"}}` body.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from dnbot.ports import AmbiguousVenueError, TransientVenueError, VenueRejected

DEFAULT_BASE_URL = "https://v2-ultra-edge.asgard.finance/margin-trading"
_TRANSIENT_CODES = {"BLOCKHASH_EXPIRED", "RATE_LIMITED"}


class AsgardApiError(VenueRejected):
    """Asgard refused the request; `code` and `name` are Asgard's."""

    def __init__(self, status: int, name: str, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"Asgard {status} {name}/{code}: {message}")
        self.status, self.name, self.code, self.details = status, name, code, details


class RateLimiter:
    """Spaces requests `interval` seconds apart (Asgard's public tier allows 1 request/s per IP)."""

    def __init__(self, interval_seconds: float, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = interval_seconds
        self._monotonic, self._sleep = monotonic, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if self.interval <= 0:
            return
        with self._lock:
            now = self._monotonic()
            if now < self._next:
                self._sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


class AsgardClient:
    """Thin, typed-at-the-edges wrapper of each documented endpoint. Bodies are Asgard's own JSON."""

    def __init__(self, base_url: str = DEFAULT_BASE_URL, api_key: str | None = None,
                 transport: httpx.BaseTransport | None = None, timeout_seconds: float = 20.0,
                 requests_per_second: float | None = None) -> None:
        headers = {"accept": "application/json"}
        if api_key:
            headers["X-API-Key"] = api_key
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, transport=transport,
                                  timeout=timeout_seconds)
        rate = requests_per_second if requests_per_second is not None else (10.0 if api_key else 1.0)
        self.limiter = RateLimiter(1.0 / rate if rate > 0 else 0.0)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None, *, changes_state: bool = False,
              params: dict[str, str] | None = None) -> Any:
        self.limiter.wait()
        try:
            response = self._http.request(method, path, json=body, params=params)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientVenueError(f"Asgard {path}: could not connect ({exc})") from exc
        except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            if changes_state:
                raise AmbiguousVenueError(f"Asgard {path}: no answer after sending ({exc}); it may have landed") \
                    from exc
            raise TransientVenueError(f"Asgard {path}: no answer ({exc})") from exc
        status = response.status_code
        if status < 400:
            try:
                return response.json()
            except ValueError as exc:
                if changes_state:
                    raise AmbiguousVenueError(f"Asgard {path}: unreadable answer to a submit") from exc
                raise TransientVenueError(f"Asgard {path}: unreadable answer") from exc
        error = _error_body(response)
        if status in (429, 503) or error.get("code") in _TRANSIENT_CODES:
            raise TransientVenueError(f"Asgard {path}: {status} {error.get('message', '')}".rstrip())
        if status >= 500:
            if changes_state and status in (500, 502, 504):
                raise AmbiguousVenueError(f"Asgard {path}: {status} after sending a signed transaction")
            raise TransientVenueError(f"Asgard {path}: {status} {error.get('message', '')}".rstrip())
        raise AsgardApiError(status, str(error.get("name", "Error")), str(error.get("code", status)),
                             str(error.get("message", response.text[:200])), error.get("details"))

    # --- market data ---

    def markets(self) -> dict[str, Any]:
        return dict(self._call("GET", "/markets"))

    def token_metadata(self, mint: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/token-metadata/{mint}"))

    def all_token_metadata(self) -> dict[str, Any]:
        """GET /token-metadata: {"tokens": [{symbol, mint, decimals, price, ...}], "stats": {...}}."""
        return dict(self._call("GET", "/token-metadata"))

    # --- positions ---

    def create_position(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "/create-position", body))

    def submit_create_position(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "/submit-create-position-tx", body, changes_state=True))

    def close_position(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "/close-position", body))

    def submit_close_position(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "/submit-close-position-tx", body, changes_state=True))

    def refresh_positions(self, pdas: list[tuple[int, str]]) -> dict[str, Any]:
        body = {"positionPDAs": [{"protocol": protocol, "positionPDA": pda} for protocol, pda in pdas]}
        return dict(self._call("POST", "/refresh-positions", body))

    def positions(self, wallet: str) -> list[dict[str, Any]]:
        return list(self._call("POST", "/positions", {"walletPubkey": wallet}))

    def position_update(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """kind: 'deleverage' | 'add-collateral' | 'partial-close' | 'repay-debt' (Kamino and Drift only)."""
        if kind not in ("deleverage", "add-collateral", "partial-close", "repay-debt"):
            raise ValueError(f"unknown position update {kind!r}")
        return dict(self._call("POST", f"/position/{kind}", body))

    def submit_position_update(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "/submit-position-update-tx", body, changes_state=True))


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {"message": response.text[:200]}
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        return dict(payload["error"])
    return {"message": str(payload)[:200]}
