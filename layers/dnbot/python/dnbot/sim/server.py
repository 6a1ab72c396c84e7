"""The venue simulator's server: one ASGI app, one port, each venue under its own path prefix.

    /hyperliquid/...            Hyperliquid's /info and /exchange        (dnbot.sim.hyperliquid)
    /asgard/margin-trading/...  Asgard's margin-trading API              (dnbot.sim.asgard)
    /solana                     Solana JSON-RPC                          (dnbot.sim.solana_rpc)
    /arbitrum                   Arbitrum JSON-RPC (USDC, the HL bridge)  (dnbot.sim.arbitrum)
    /privy/...                  Privy's wallet API                       (dnbot.sim.privy)
    /iris/...                   Circle's CCTP attestation service (V2)   (dnbot.sim.iris)
    /sim/...                    controls: clock, faults, and each venue's own (fund an account, ...)

Every venue shares one SimWorld: one clock, one replayed market, one fault injector.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import uvicorn
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.types import ASGIApp, Receive, Scope, Send

from dnbot.marketdata.recorded import RecordedData
from dnbot.sim.venue import SimVenue
from dnbot.sim.world import Fault, FaultKind, SimWorld

logger = logging.getLogger(__name__)

# venue name (its /sim/<name> controls) -> module exposing create_venue(world)
VENUE_MODULES: dict[str, str] = {
    "hyperliquid": "dnbot.sim.hyperliquid",
    "asgard": "dnbot.sim.asgard",
    "solana": "dnbot.sim.solana_rpc",
    "arbitrum": "dnbot.sim.arbitrum",
    "privy": "dnbot.sim.privy",
    "iris": "dnbot.sim.iris",
}


class ClockAdvance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    advance_seconds: Decimal | None = Field(default=None, ge=0)
    advance_hours: Decimal | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_of(self) -> ClockAdvance:
        if (self.advance_seconds is None) == (self.advance_hours is None):
            raise ValueError("give exactly one of advance_seconds, advance_hours")
        return self


class MarketMove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sol_price_factor: Decimal = Field(gt=0, le=100, description="every venue's SOL price = replayed x this")


class FaultRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    venue: Literal["hyperliquid", "asgard", "solana", "arbitrum", "privy", "iris"]
    call: str = Field(min_length=1, description="the venue's operation name, or * for any")
    kind: FaultKind
    times: int = Field(default=1, ge=1, le=1000)
    delay_seconds: float = Field(default=0.0, ge=0, le=120)
    fill_fraction: Decimal = Field(default=Decimal("0.5"), gt=0, lt=1)
    message: str = "injected fault"


def _clock_view(world: SimWorld) -> dict[str, Any]:
    now = world.clock.now()
    return {"now": now.isoformat(), "now_ms": world.clock.now_ms(), "speed": world.clock.speed,
            "recorded_hour": world.market.recorded_hour(now).isoformat(),
            "sol_price": str(world.market.sol_price(now)),
            "funding_hourly": str(world.market.funding_hourly(now))}


def _controls(world: SimWorld) -> APIRouter:
    router = APIRouter(prefix="/sim", tags=["sim"])

    @router.get("/clock")
    def clock() -> dict[str, Any]:
        return _clock_view(world)

    @router.post("/clock")
    def advance(body: ClockAdvance) -> dict[str, Any]:
        seconds = body.advance_seconds if body.advance_seconds is not None else (body.advance_hours or 0) * 3600
        world.clock.advance(timedelta(seconds=float(seconds)))
        return _clock_view(world)

    @router.post("/market")
    def move_market(body: MarketMove) -> dict[str, Any]:
        """A market move on top of the recording, at every venue at once (a rally or a crash: liquidations
        follow at each venue's next look)."""
        world.market.sol_price_factor = body.sol_price_factor
        return _clock_view(world) | {"sol_price_factor": str(body.sol_price_factor)}

    @router.get("/faults")
    def faults() -> dict[str, Any]:
        return {"faults": [_fault_view(f) for f in world.faults.pending()]}

    @router.post("/faults", status_code=201)
    def inject(body: FaultRequest) -> dict[str, Any]:
        fault = Fault(venue=body.venue, call=body.call, kind=body.kind, times=body.times,
                      delay_seconds=body.delay_seconds, fill_fraction=body.fill_fraction, message=body.message)
        world.faults.inject(fault)
        return _fault_view(fault)

    @router.delete("/faults", status_code=204)
    def clear() -> None:
        world.faults.clear()

    return router


def _fault_view(fault: Fault) -> dict[str, Any]:
    return {"venue": fault.venue, "call": fault.call, "kind": fault.kind.value, "times": fault.times,
            "delay_seconds": fault.delay_seconds, "fill_fraction": str(fault.fill_fraction)}


def load_venues(world: SimWorld, privy_apps: Iterable[Any] = ()) -> dict[str, SimVenue]:
    """Every venue module that exists, created on this world."""
    venues: dict[str, SimVenue] = {}
    for name, module_name in VENUE_MODULES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as missing:
            if missing.name != module_name:
                raise
            logger.warning("venue %s is not available in this build", name)
            continue
        venues[name] = module.create_venue(world, privy_apps) if name == "privy" else module.create_venue(world)
    return venues


class _ExactPrefixToRoot:
    """JSON-RPC clients POST to the node URL itself (`.../solana`), where a mount would answer a 307 redirect
    to `.../solana/` that an RPC client does not follow: route the bare prefix to the venue's root."""

    def __init__(self, app: ASGIApp, prefixes: Iterable[str]) -> None:
        self._app = app
        self._prefixes = set(prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self._prefixes:
            scope = {**scope, "path": scope["path"] + "/", "raw_path": scope["path"].encode() + b"/"}
        await self._app(scope, receive, send)


def build_app(world: SimWorld, privy_apps: Iterable[Any] = ()) -> FastAPI:
    app = FastAPI(title="dnbot venue simulator", docs_url="/sim/docs", openapi_url="/sim/openapi.json")
    app.state.world = world
    venues = load_venues(world, privy_apps)
    app.state.venues = venues

    @app.get("/sim")
    def index() -> dict[str, Any]:
        return {"venues": {name: venue.prefix for name, venue in venues.items()}, "clock": _clock_view(world)}

    app.include_router(_controls(world))
    for name, venue in venues.items():
        if venue.control is not None:
            app.include_router(venue.control, prefix=f"/sim/{name}", tags=[f"sim:{name}"])
    for venue in venues.values():
        app.mount(venue.prefix, venue.app)
    app.add_middleware(_ExactPrefixToRoot, prefixes=[venue.prefix for venue in venues.values()])
    return app


@dataclass
class RunningSim:
    base_url: str
    world: SimWorld
    app: FastAPI
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def url(self, venue: str) -> str:
        """The base URL an adapter is given for `venue`."""
        prefix: str = self.app.state.venues[venue].prefix
        return self.base_url + prefix

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def start_in_thread(host: str = "127.0.0.1", port: int = 0, data_dir: Path | None = None, speed: float = 1.0,
                    privy_apps: Iterable[Any] = (), world: SimWorld | None = None) -> RunningSim:
    """Serve the simulator from a daemon thread (tests and `dnbot local`); returns once it accepts."""
    world = world or SimWorld.create(RecordedData(data_dir) if data_dir else None, speed=speed)
    app = build_app(world, privy_apps)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="dnbot-sim", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the simulator did not start on {host}:{port}")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()
    return RunningSim(f"http://{bound[0]}:{bound[1]}", world, app, server, thread)
