"""What every HTTP response and request passes at the API's edge: security headers, the CloudFront origin check,
and who the client is (for abuse limits and the audit trail).

In AWS, CloudFront adds the security headers to the dashboard (its response headers policy) and this module adds
the same ones to every /api response, so no path goes without them; `dnbot local` serves the dashboard here too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from dnbot.security.origin import ORIGIN_VERIFY_HEADER, origin_verified

if TYPE_CHECKING:
    from dnbot.runtime import Runtime

HSTS = "max-age=63072000; includeSubDomains"
# JSON needs nothing: no scripts, no frames, no embedding anywhere.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The dashboard: Privy's recommended policy (its login iframe, Turnstile, WalletConnect); the API and /live are 'self'.
DASHBOARD_CSP = ("default-src 'self'; script-src 'self' https://challenges.cloudflare.com; "
                 "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; object-src 'none'; "
                 "base-uri 'self'; form-action 'self'; frame-ancestors 'none'; worker-src 'self'; manifest-src 'self'; "
                 "child-src https://auth.privy.io https://verify.walletconnect.com https://verify.walletconnect.org; "
                 "frame-src https://auth.privy.io https://verify.walletconnect.com https://verify.walletconnect.org "
                 "https://challenges.cloudflare.com; "
                 "connect-src 'self' https://auth.privy.io wss://relay.walletconnect.com wss://relay.walletconnect.org "
                 "wss://www.walletlink.org https://*.rpc.privy.systems https://explorer-api.walletconnect.com")
SECURITY_HEADERS = {
    "Strict-Transport-Security": HSTS,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def security_headers(path: str) -> dict[str, str]:
    if path.startswith("/api/docs"):  # Swagger UI (only where docs are on) loads its scripts from a CDN
        return {**SECURITY_HEADERS, "Content-Security-Policy": "frame-ancestors 'none'"}
    csp = API_CSP if path.startswith(("/api/", "/live")) else DASHBOARD_CSP
    return {**SECURITY_HEADERS, "Content-Security-Policy": csp}


def client_address(request: Request) -> str:
    """The viewer's IP. Behind CloudFront (AWS) it is the last X-Forwarded-For entry that is not the peer itself:
    CloudFront appends the viewer's address, so a client can only prepend forged entries, never replace it.
    Elsewhere it is the socket peer."""
    runtime: Runtime = request.app.state.runtime
    peer = request.client.host if request.client else "unknown"
    if runtime.settings.environment == "aws":
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
        while hops and hops[-1] == peer:
            hops.pop()
        if hops:
            return hops[-1][:64]
    return peer


def install_edge_guards(app: FastAPI, runtime: Runtime) -> None:
    @app.middleware("http")
    async def _edge(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if not origin_verified(request.headers.get(ORIGIN_VERIFY_HEADER, ""), runtime.origin_verify_secret):
            response: Response = JSONResponse(status_code=403, content={"error": {
                "code": "direct_access_refused", "message": "Use the dashboard's address, not the API's own."}})
            response.headers.update(security_headers(request.url.path))
            return response
        response = await call_next(request)
        for name, value in security_headers(request.url.path).items():
            response.headers.setdefault(name, value)
        return response
