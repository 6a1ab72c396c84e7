from __future__ import annotations

from fastapi import APIRouter

from dnbot.api.deps import RuntimeDep, UserDep
from dnbot.api.schemas import JobAccepted, JobOut, OpenPositionRequest, PositionOut, PositionsResponse
from dnbot.domain.assets import Asset, Protocol

router = APIRouter(prefix="/positions", tags=["positions"])


@router.post("/open", status_code=202)
def open_position(body: OpenPositionRequest, runtime: RuntimeDep, current: UserDep) -> JobAccepted:
    job = runtime.positions.request_open(
        current.user.user_id, Asset.parse(body.asset), Protocol.parse(body.protocol) if body.protocol else None,
        body.leverage, body.size_usd)
    return JobAccepted(job_id=job.job_id, position_id=job.position_id, status="pending")


@router.get("/jobs/{job_id}")
def job_status(job_id: str, runtime: RuntimeDep, current: UserDep) -> JobOut:
    return JobOut.build(runtime.positions.job(current.user.user_id, job_id))


@router.get("")
def list_positions(runtime: RuntimeDep, current: UserDep) -> PositionsResponse:
    return PositionsResponse(positions=[PositionOut.build(p) for p in runtime.positions.list(current.user.user_id)])


@router.get("/{position_id}")
def get_position(position_id: str, runtime: RuntimeDep, current: UserDep) -> PositionOut:
    return PositionOut.build(runtime.positions.get(current.user.user_id, position_id))


@router.post("/{position_id}/close", status_code=202)
def close_position(position_id: str, runtime: RuntimeDep, current: UserDep) -> JobAccepted:
    job = runtime.positions.request_close(current.user.user_id, position_id)
    return JobAccepted(job_id=job.job_id, position_id=position_id, status="closing")
