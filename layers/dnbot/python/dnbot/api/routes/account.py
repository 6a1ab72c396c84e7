from __future__ import annotations

from fastapi import APIRouter

from dnbot.api.deps import RuntimeDep, UserDep
from dnbot.api.schemas import BalancesResponse, SettingsBody, SettingsOut

router = APIRouter(tags=["account"])


@router.get("/settings")
def get_settings(runtime: RuntimeDep, current: UserDep) -> SettingsOut:
    return SettingsOut.build(runtime.account.settings_of(current.user))


@router.post("/settings")
def save_settings(body: SettingsBody, runtime: RuntimeDep, current: UserDep) -> SettingsOut:
    return SettingsOut.build(runtime.account.save_settings(current.user, body.preset, body.leverage,
                                                           body.max_position_usd))


@router.post("/settings/reset")
def reset_settings(runtime: RuntimeDep, current: UserDep) -> SettingsOut:
    return SettingsOut.build(runtime.account.reset_settings(current.user))


@router.get("/balances")
def balances(runtime: RuntimeDep, current: UserDep) -> BalancesResponse:
    return BalancesResponse.build(current.user, runtime.account.balances(current.user))
