from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Query

from dnbot.api.deps import RuntimeDep
from dnbot.api.schemas import LEVERAGE_DIGITS, LEVERAGE_PLACES, ConfigResponse, RatesResponse
from dnbot.services.rates import rate_markets

router = APIRouter(tags=["rates"])


@router.get("/config")
def config(runtime: RuntimeDep) -> ConfigResponse:
    settings = runtime.settings
    return ConfigResponse(identity_provider=settings.identity_provider, privy_app_id=settings.privy_app_id,
                          websocket_url=settings.websocket_url, environment=settings.environment)


@router.get("/rates")
def rates(runtime: RuntimeDep, leverage: Decimal = Query(Decimal(3), ge=2, le=4, max_digits=LEVERAGE_DIGITS,
                                                                 decimal_places=LEVERAGE_PLACES)) -> RatesResponse:
    snapshot = runtime.rates.latest()
    return RatesResponse.build(snapshot, rate_markets(snapshot, leverage), leverage)
