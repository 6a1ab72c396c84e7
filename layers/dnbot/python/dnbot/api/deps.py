"""Request-scoped dependencies: the runtime, and the logged-in user (with CSRF on writes)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from dnbot.ports import SessionRecord, UserRecord
from dnbot.services.errors import Forbidden

if TYPE_CHECKING:
    from dnbot.runtime import Runtime

SESSION_COOKIE = "dnbot_session"
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


def current_user(request: Request) -> CurrentUser:
    runtime = get_runtime(request)
    user, session = runtime.auth.authenticate(request.cookies.get(SESSION_COOKIE))
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, session.csrf_token):
            raise Forbidden("Missing or wrong CSRF token; reload the page.", code="csrf_failed")
    return CurrentUser(user, session)


UserDep = Annotated[CurrentUser, Depends(current_user)]
