from __future__ import annotations

from fastapi import APIRouter, Request, Response

from dnbot.api.deps import RuntimeDep, UserDep, session_cookie
from dnbot.api.edge import client_address
from dnbot.api.schemas import (
    EmailStartRequest,
    EmailVerifyRequest,
    LogoutRequest,
    PrivyLoginRequest,
    SessionResponse,
    StatusMessage,
    UserOut,
)
from dnbot.services.auth import SESSION_COOKIE, LoginResult

router = APIRouter(prefix="/auth", tags=["auth"])


def _session_reply(runtime: RuntimeDep, response: Response, result: LoginResult) -> SessionResponse:
    # HttpOnly (no script reads it), SameSite=Strict (no cross-site request carries it), Secure except on
    # `dnbot local`'s plain http, host-only (no Domain), and it ends with the session's absolute lifetime.
    response.set_cookie(SESSION_COOKIE, result.session.session_id, httponly=True,
                        secure=runtime.settings.cookie_secure, samesite="strict", path="/",
                        expires=result.session.expires_at)
    response.headers["Cache-Control"] = "no-store"
    return SessionResponse(user=UserOut.build(result.user, result.is_new_user),
                           csrf_token=result.session.csrf_token)


@router.post("/email/start", status_code=202)
def email_start(body: EmailStartRequest, request: Request, runtime: RuntimeDep) -> StatusMessage:
    runtime.auth.start_email_login(body.email, client=client_address(request))
    return StatusMessage(status="code_sent")


@router.post("/email/verify")
def email_verify(body: EmailVerifyRequest, request: Request, runtime: RuntimeDep,
                 response: Response) -> SessionResponse:
    return _session_reply(runtime, response, runtime.auth.verify_email_code(
        body.email, body.code, client=client_address(request), remember=body.remember,
        replacing=session_cookie(request)))


@router.post("/privy")
def privy_login(body: PrivyLoginRequest, request: Request, runtime: RuntimeDep, response: Response) -> SessionResponse:
    return _session_reply(runtime, response, runtime.auth.login_with_privy(
        body.access_token, client=client_address(request), remember=body.remember,
        replacing=session_cookie(request)))


@router.get("/me")
def me(current: UserDep) -> SessionResponse:
    return SessionResponse(user=UserOut.build(current.user), csrf_token=current.session.csrf_token)


@router.post("/logout", status_code=204)
def logout(request: Request, runtime: RuntimeDep, current: UserDep, body: LogoutRequest | None = None) -> Response:
    runtime.auth.log_out(current.session.session_id, everywhere=body is not None and body.everywhere,
                         user_id=current.user.user_id, client=client_address(request))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, secure=runtime.settings.cookie_secure,
                           samesite="strict")
    return response
