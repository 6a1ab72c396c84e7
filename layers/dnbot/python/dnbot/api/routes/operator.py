from __future__ import annotations

from datetime import UTC, date
from typing import Any

from fastapi import APIRouter, Query

from dnbot.api.deps import RuntimeDep, UserDep
from dnbot.api.schemas import AuditEntryOut, AuditResponse
from dnbot.services.errors import Forbidden

router = APIRouter(prefix="/operator", tags=["operator"])


@router.get("/audit")
def audit_trail(runtime: RuntimeDep, current: UserDep, day: date | None = Query(default=None),
                limit: int = Query(default=200, ge=1, le=1000)) -> AuditResponse:
    """Logins, session exchanges, withdrawals, settings, kill-switch flips, emergency stops: who, when, where."""
    if not runtime.control.is_operator(current.user):
        raise Forbidden("Only an operator can read the audit trail.", code="not_an_operator")
    chosen = (day or runtime.clock.now().astimezone(UTC).date()).isoformat()
    entries: list[dict[str, Any]] = runtime.audit.entries(chosen, limit)
    return AuditResponse(day=chosen, entries=[AuditEntryOut(**entry) for entry in entries])
