"""Request-scoped dependencies: the runtime, and the logged-in user (with CSRF on writes)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Path, Request

from dnbot.ports import SessionRecord, UserRecord
from dnbot.services.auth import SESSION_COOKIE, is_token_text, limit, well_formed_session
from dnbot.services.errors import Forbidden

if TYPE_CHECKING:
    from dnbot.runtime import Runtime

CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated["Runtime", Depends(get_runtime)]


@dataclass(frozen=True)
class CurrentUser:
    user: UserRecord
    session: SessionRecord


def session_cookie(request: Request) -> str | None:
    """The session cookie if it is well formed; a malformed one counts as no session."""
    return well_formed_session(request.cookies.get(SESSION_COOKIE))


def current_user(request: Request) -> CurrentUser:
    runtime = get_runtime(request)
    user, session = runtime.auth.authenticate(session_cookie(request))
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not is_token_text(sent) or not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
            raise Forbidden("Missing or wrong CSRF token; reload the page.", code="csrf_failed")
    if runtime.settings.environment == "aws":
        # Lambda serves one request at a time and the handler clears the keys per invocation, so every log
        # line of this request carries the user (locally, concurrent requests would share the keys).
        from dnbot.observability import logger

        logger.append_keys(user_id=user.user_id)
    return CurrentUser(user, session)


UserDep = Annotated[CurrentUser, Depends(current_user)]


# Ids in paths (positions, jobs, withdrawals) are ours: hex or URL-safe, short. Anything else is a 422 before it
# becomes a database key (DynamoDB refuses keys over 1 KB with a server error).
IdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


def rate_limited(scope: str, per_hour: int) -> Any:
    """A route dependency: at most `per_hour` calls per user per hour (atomic counter), else 429 + Retry-After."""
    def check(request: Request, current: UserDep) -> None:
        limit(get_runtime(request).session_store, scope, current.user.user_id, per_hour, timedelta(hours=1),
              "Too many of these in the last hour; wait a little.")

    return Depends(check)


POSITION_OPENS_PER_HOUR = 30
POSITION_CLOSES_PER_HOUR = 60


def audit(request: Request, current: CurrentUser, action: str, **detail: object) -> None:
    """Record who did what from where in the audit trail (the operator reads it: GET /operator/audit)."""
    from dnbot.api.edge import client_address

    get_runtime(request).audit.record(action, user_id=current.user.user_id, client=client_address(request),
                                      detail={k: str(v) for k, v in detail.items()})
