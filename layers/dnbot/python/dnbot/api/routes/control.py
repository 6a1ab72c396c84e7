from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from fastapi import APIRouter, Request

from dnbot.api.deps import CurrentUser, RuntimeDep, UserDep, audit
from dnbot.api.schemas import KillSwitchBody, StatusResponse
from dnbot.domain.kill_switch import KillSwitch
from dnbot.services.control import BotStatus
from dnbot.services.errors import Forbidden

router = APIRouter(tags=["control"])


def _reply(status: BotStatus) -> StatusResponse:
    return StatusResponse(bot_status=status.bot_status, kill_switch=status.kill_switch.value,
                          positions_open=status.positions_open, pnl_24h_usd=status.pnl_24h_usd,
                          pnl_24h_as_of=status.pnl_24h_as_of,
                          failed_opens=status.failed_opens, open_backoff_until=status.open_backoff_until,
                          operator=status.operator)


@contextmanager
def _refusal_audited(request: Request, current: CurrentUser, action: str, value: str) -> Iterator[None]:
    """A non-operator's attempt at the kill switch is refused (403) and recorded for the operator."""
    try:
        yield
    except Forbidden:
        audit(request, current, action, kill_switch=value)
        raise


@router.get("/status")
def status(runtime: RuntimeDep, current: UserDep) -> StatusResponse:
    return _reply(runtime.control.status(current.user.user_id))


@router.post("/control/emergency-stop")
def emergency_stop(request: Request, runtime: RuntimeDep, current: UserDep) -> StatusResponse:
    with _refusal_audited(request, current, "emergency_stop_refused", KillSwitch.CLOSE_ALL.value):
        runtime.control.emergency_stop(current.user.user_id)
    audit(request, current, "emergency_stop", kill_switch=KillSwitch.CLOSE_ALL.value)
    return _reply(runtime.control.status(current.user.user_id))


@router.post("/control/kill-switch")
def set_kill_switch(body: KillSwitchBody, request: Request, runtime: RuntimeDep, current: UserDep) -> StatusResponse:
    with _refusal_audited(request, current, "kill_switch_refused", body.value):
        runtime.control.set_kill_switch(current.user.user_id, KillSwitch(body.value))
    audit(request, current, "kill_switch", kill_switch=body.value)
    return _reply(runtime.control.status(current.user.user_id))


@router.post("/control/{action}")
def control(action: Literal["start", "pause", "stop"], request: Request, runtime: RuntimeDep,
            current: UserDep) -> StatusResponse:
    status = runtime.control.set_bot(current.user.user_id, action)
    audit(request, current, "bot_" + action)
    return _reply(status)
