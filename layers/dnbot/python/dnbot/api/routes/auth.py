from __future__ import annotations

from fastapi import APIRouter, Request, Response

from dnbot.api.deps import SESSION_COOKIE, RuntimeDep, UserDep
from dnbot.api.schemas import (
    EmailStartRequest,
    EmailVerifyRequest,
    PrivyLoginRequest,
    SessionResponse,
    StatusMessage,
    UserOut,
)
from dnbot.services.auth import LoginResult

router = APIRouter(prefix="/auth", tags=["auth"])


def _session_reply(runtime: RuntimeDep, response: Response, result: LoginResult) -> SessionResponse:
    response.set_cookie(SESSION_COOKIE, result.session.session_id, httponly=True,
                        secure=runtime.settings.cookie_secure, samesite="strict", path="/",
                        expires=result.session.expires_at)
    return SessionResponse(user=UserOut.build(result.user, result.is_new_user),
                           csrf_token=result.session.csrf_token)


@router.post("/email/start", status_code=202)
def email_start(body: EmailStartRequest, runtime: RuntimeDep) -> StatusMessage:
    runtime.auth.start_email_login(body.email)
    return StatusMessage(status="code_sent")


@router.post("/email/verify")
def email_verify(body: EmailVerifyRequest, runtime: RuntimeDep, response: Response) -> SessionResponse:
    return _session_reply(runtime, response,
                          runtime.auth.verify_email_code(body.email, body.code, remember=body.remember))


@router.post("/privy")
def privy_login(body: PrivyLoginRequest, runtime: RuntimeDep, response: Response) -> SessionResponse:
    return _session_reply(runtime, response, runtime.auth.login_with_privy(body.access_token,
                                                                         remember=body.remember))


@router.get("/me")
def me(current: UserDep) -> SessionResponse:
    return SessionResponse(user=UserOut.build(current.user), csrf_token=current.session.csrf_token)


@router.post("/logout", status_code=204)
def logout(request: Request, runtime: RuntimeDep, current: UserDep) -> Response:
    runtime.auth.log_out(current.session.session_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
