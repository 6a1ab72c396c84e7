from __future__ import annotations

from fastapi import APIRouter, Request

from dnbot.api.deps import RuntimeDep, UserDep, audit
from dnbot.api.schemas import BalancesResponse, PresetOut, SettingsBody, SettingsOut
from dnbot.domain.presets import PRESETS

router = APIRouter(tags=["account"])


@router.get("/settings")
def get_settings(runtime: RuntimeDep, current: UserDep) -> SettingsOut:
    return SettingsOut.build(runtime.account.settings_of(current.user))


@router.get("/presets")
def presets(current: UserDep) -> list[PresetOut]:
    """The risk presets, in order of risk: what the settings page describes and fills in."""
    return [PresetOut.build(preset) for preset in PRESETS.values()]


@router.post("/settings")
def save_settings(body: SettingsBody, request: Request, runtime: RuntimeDep, current: UserDep) -> SettingsOut:
    saved = runtime.account.save_settings(current.user, body.preset, body.leverage, body.max_position_usd)
    audit(request, current, "settings_saved", **body.model_dump(mode="json", exclude_none=True))
    return SettingsOut.build(saved)


@router.post("/settings/reset")
def reset_settings(request: Request, runtime: RuntimeDep, current: UserDep) -> SettingsOut:
    reset = runtime.account.reset_settings(current.user)
    audit(request, current, "settings_reset")
    return SettingsOut.build(reset)


@router.get("/balances")
def balances(runtime: RuntimeDep, current: UserDep) -> BalancesResponse:
    return BalancesResponse.build(current.user, runtime.account.balances(current.user))
