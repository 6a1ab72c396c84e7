"""What each simulated venue module hands the simulator's server (`create_venue(world) -> SimVenue`)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from starlette.types import ASGIApp


@dataclass(frozen=True)
class SimVenue:
    prefix: str  # where the venue's own protocol is mounted, e.g. "/hyperliquid"
    app: ASGIApp  # answers the venue's wire protocol under that prefix
    control: APIRouter | None = None  # test and demo controls, included under /sim/<venue name>
