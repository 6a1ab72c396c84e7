from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from dnbot.api.deps import RuntimeDep, UserDep
from dnbot.api.schemas import KillSwitchBody, StatusResponse
from dnbot.resources import KillSwitch
from dnbot.services.control import BotStatus

router = APIRouter(tags=["control"])


def _reply(status: BotStatus) -> StatusResponse:
    return StatusResponse(bot_status=status.bot_status, kill_switch=status.kill_switch.value,
                          positions_open=status.positions_open, pnl_24h_usd=status.pnl_24h_usd,
                          failed_opens=status.failed_opens, open_backoff_until=status.open_backoff_until,
                          operator=status.operator)


@router.get("/status")
def status(runtime: RuntimeDep, current: UserDep) -> StatusResponse:
    return _reply(runtime.control.status(current.user.user_id))


@router.post("/control/emergency-stop")
def emergency_stop(runtime: RuntimeDep, current: UserDep) -> StatusResponse:
    runtime.control.emergency_stop(current.user.user_id)
    return _reply(runtime.control.status(current.user.user_id))


@router.post("/control/kill-switch")
def set_kill_switch(body: KillSwitchBody, runtime: RuntimeDep, current: UserDep) -> StatusResponse:
    runtime.control.set_kill_switch(current.user.user_id, KillSwitch(body.value))
    return _reply(runtime.control.status(current.user.user_id))


@router.post("/control/{action}")
def control(action: Literal["start", "pause", "stop"], runtime: RuntimeDep, current: UserDep) -> StatusResponse:
    return _reply(runtime.control.set_bot(current.user.user_id, action))
