"""`dnbot local` only: run one of the EventBridge schedules now (`POST /local/schedules/<name>/run`), so an operator
or a test need not wait for the next cycle (the reconciler's is 2 minutes). Refused without the
`X-Dnbot-Local: 1` header (a cross-site form cannot send one), and only scheduled functions may run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.encoders import jsonable_encoder
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dnbot.local.scheduler import LocalScheduler
from dnbot.resources import FUNCTIONS

CONTROL_HEADER = "X-Dnbot-Local"
SCHEDULED = frozenset(spec.name for spec in FUNCTIONS if spec.schedule_minutes is not None)


def schedule_route(scheduler: LocalScheduler, settle: Callable[[], None] | None = None) -> Route:
    """`settle`: waits until the queues are drained, so a schedule that fans out (the tick, the reconciler) has
    done its work when the reply comes."""

    async def run(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        if request.headers.get(CONTROL_HEADER) != "1":
            return JSONResponse({"error": f"send the header {CONTROL_HEADER}: 1"}, status_code=403)
        if name not in SCHEDULED:
            return JSONResponse({"error": f"no schedule {name!r}; one of {', '.join(sorted(SCHEDULED))}"},
                                status_code=404)
        result: Any = await run_in_threadpool(scheduler.run_once, name)
        if settle is not None:
            await run_in_threadpool(settle)
        return JSONResponse({"function": name, "result": jsonable_encoder(result)})

    return Route("/local/schedules/{name}/run", run, methods=["POST"])
