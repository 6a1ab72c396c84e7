"""The trader's record: activity, and CSV exports of positions and of the funding they received."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Response

from dnbot.api.deps import RuntimeDep, UserDep
from dnbot.api.views import ActivityOut, funding_csv, positions_csv
from dnbot.services.errors import ServiceError

router = APIRouter(tags=["history"])


@router.get("/activity")
def activity(runtime: RuntimeDep, current: UserDep, limit: int = Query(50, ge=1, le=200),
             cursor: str | None = Query(None, max_length=200)) -> ActivityOut:
    try:
        return ActivityOut.build(runtime.activity.events(current.user.user_id, limit, cursor))
    except ValueError as bad:
        raise ServiceError("Invalid cursor; start again from the first page.", code="invalid_cursor") from bad


def _csv(body: str, name: str) -> Response:
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/positions.csv")
def export_positions(runtime: RuntimeDep, current: UserDep) -> Response:
    return _csv(positions_csv(runtime.portfolio.every(current.user.user_id)), "dnbot-positions.csv")


@router.get("/funding.csv")
def export_funding(runtime: RuntimeDep, current: UserDep,
                   since: datetime | None = Query(None, description="ISO 8601; default: 31 days before until"),
                   until: datetime | None = Query(None, description="ISO 8601; default: now")) -> Response:
    """Funding received (+) or paid (-): one row per position per hourly payment, at most 366 days a request."""
    payments = runtime.portfolio.funding_payments(current.user.user_id, since, until)
    return _csv(funding_csv(payments), "dnbot-funding.csv")
