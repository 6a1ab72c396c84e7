"""The FastAPI app factory. Routes are a few lines each: they parse, call one service, and shape the reply."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dnbot.api.edge import install_edge_guards
from dnbot.api.routes import account, auth, charts, control, history, notifications, positions, rates
from dnbot.api.routes import deposits as deposit_routes
from dnbot.api.routes import operator as operator_routes
from dnbot.api.routes import withdrawals as withdrawal_routes
from dnbot.ports import TransientVenueError
from dnbot.services.errors import ServiceError, TooManyRequests

if TYPE_CHECKING:
    from dnbot.runtime import Runtime

logger = logging.getLogger(__name__)


def _error(status: int, code: str, message: str, details: list[dict[str, object]] | None = None) -> JSONResponse:
    body: dict[str, object] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse(status_code=status, content={"error": body})


def create_app(runtime: Runtime, static_dir: Path | None = None) -> FastAPI:
    # The interactive docs and the schema are off in AWS unless the operator turns them on (DNBOT_API_DOCS).
    docs = runtime.settings.api_docs if runtime.settings.api_docs is not None else runtime.settings.environment != "aws"
    app = FastAPI(title="dnbot API", version="1", docs_url="/api/docs" if docs else None,
                  openapi_url="/api/openapi.json" if docs else None, redoc_url=None)
    app.state.runtime = runtime
    install_edge_guards(app, runtime)

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, error: ServiceError) -> JSONResponse:
        response = _error(error.status, error.code, str(error))
        if isinstance(error, TooManyRequests):
            response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        details = [{"field": ".".join(str(p) for p in e["loc"][1:]), "problem": e["msg"]} for e in error.errors()]
        first = details[0] if details else {"field": "", "problem": "invalid"}
        message = f"{first['field']}: {first['problem']}" if first["field"] else str(first["problem"])
        return _error(422, "invalid_request", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return _error(error.status_code, code, str(error.detail))

    @app.exception_handler(TransientVenueError)
    async def _venue_down(_: Request, error: TransientVenueError) -> JSONResponse:
        logger.warning("a venue is unavailable: %s", error)
        response = _error(503, "venue_unavailable", "A venue is not answering just now; try again in a minute.")
        response.headers["Retry-After"] = "30"
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal_error", "Something went wrong on our side; it has been logged.")

    for module in (rates, auth, history, charts, positions, control, account, notifications, withdrawal_routes,
                   operator_routes, deposit_routes):
        app.include_router(module.router, prefix="/api/v1")

    if static_dir is not None:
        _serve_dashboard(app, static_dir)
    return app


def _serve_dashboard(app: FastAPI, static_dir: Path) -> None:
    """`dnbot local` serves the built dashboard itself (CloudFront + S3 do it in AWS)."""
    from fastapi.staticfiles import StaticFiles

    app.mount("/", StaticFiles(directory=static_dir, html=True), name="dashboard")
