from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from dnbot.api.deps import (
    POSITION_CLOSES_PER_HOUR,
    POSITION_OPENS_PER_HOUR,
    IdPath,
    RuntimeDep,
    UserDep,
    rate_limited,
)
from dnbot.api.schemas import JobAccepted, JobOut, OpenPositionRequest
from dnbot.api.views import PositionsPageOut, PositionViewOut
from dnbot.domain.assets import Asset, Protocol
from dnbot.services.idempotency import fingerprint

router = APIRouter(prefix="/positions", tags=["positions"])

# The IETF draft's request header: the same key + the same request within 24 h is answered once.
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


@router.post("/open", status_code=202, response_model=JobAccepted,
             dependencies=[rate_limited("position-opens", POSITION_OPENS_PER_HOUR)])
def open_position(body: OpenPositionRequest, request: Request, runtime: RuntimeDep, current: UserDep,
                  idempotency_key: IdempotencyKey = None) -> JSONResponse:
    def start() -> tuple[int, dict[str, object]]:
        job = runtime.positions.request_open(
            current.user.user_id, Asset.parse(body.asset), Protocol.parse(body.protocol) if body.protocol else None,
            body.leverage, body.size_usd)
        return 202, JobAccepted(job_id=job.job_id, position_id=job.position_id, status="pending").model_dump()

    status, reply = runtime.idempotent_starts.run(
        current.user.user_id, idempotency_key,
        fingerprint("POST", request.url.path, body.model_dump(mode="json")), start)
    return JSONResponse(status_code=status, content=reply)


@router.get("/jobs/{job_id}")
def job_status(job_id: IdPath, runtime: RuntimeDep, current: UserDep) -> JobOut:
    return JobOut.build(runtime.positions.job(current.user.user_id, job_id))


@router.get("")
def list_positions(runtime: RuntimeDep, current: UserDep, view: Literal["all", "active", "history"] = "all",
                   limit: int = Query(50, ge=1, le=200), cursor: str | None = Query(None, max_length=20),
                   ) -> PositionsPageOut:
    """Live figures (health, margin, liquidation, PnL by source) for live positions; realized PnL for the rest."""
    return PositionsPageOut.build(runtime.portfolio.page(current.user.user_id, view, limit, cursor))


@router.get("/{position_id}")
def get_position(position_id: IdPath, runtime: RuntimeDep, current: UserDep) -> PositionViewOut:
    return PositionViewOut.build(runtime.portfolio.one(runtime.positions.get(current.user.user_id, position_id)))


@router.post("/{position_id}/close", status_code=202, response_model=JobAccepted,
             dependencies=[rate_limited("position-closes", POSITION_CLOSES_PER_HOUR)])
def close_position(position_id: IdPath, request: Request, runtime: RuntimeDep, current: UserDep,
                   idempotency_key: IdempotencyKey = None) -> JSONResponse:
    def start() -> tuple[int, dict[str, object]]:
        job = runtime.positions.request_close(current.user.user_id, position_id)
        return 202, JobAccepted(job_id=job.job_id, position_id=position_id, status="closing").model_dump()

    status, reply = runtime.idempotent_starts.run(
        current.user.user_id, idempotency_key, fingerprint("POST", request.url.path, {}), start)
    return JSONResponse(status_code=status, content=reply)
