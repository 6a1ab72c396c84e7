"""Chart data: PnL by source over time (account and position), Hyperliquid funding with entries and exits, and a
backtest of a preset over the recorded data."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Query

from dnbot.api.deps import IdPath, RuntimeDep, UserDep
from dnbot.domain.pnl import SOURCES
from dnbot.ports import PnlSnapshot

router = APIRouter(tags=["charts"])


def _points(series: list[PnlSnapshot]) -> dict[str, Any]:
    return {"points": [{"at": s.at.isoformat(), "total_usd": format(sum(s.parts.values(), Decimal(0)), "f"),
                        **{f"{name}_usd": format(s.parts.get(name, Decimal(0)), "f") for name in SOURCES}}
                       for s in series]}


@router.get("/charts/account")
def account_chart(runtime: RuntimeDep, current: UserDep, days: int = Query(30, ge=1, le=365)) -> dict[str, Any]:
    since = runtime.clock.now() - timedelta(days=days)
    return _points(runtime.portfolio.account_series(current.user.user_id, since))


@router.get("/charts/positions/{position_id}")
def position_chart(position_id: IdPath, runtime: RuntimeDep, current: UserDep,
                   days: int = Query(30, ge=1, le=365)) -> dict[str, Any]:
    runtime.positions.get(current.user.user_id, position_id)  # 404 for a position that is not theirs
    since = runtime.clock.now() - timedelta(days=days)
    return _points(runtime.portfolio.position_series(current.user.user_id, position_id, since))


@router.get("/charts/funding")
def funding_chart(runtime: RuntimeDep, current: UserDep, hours: int = Query(168, ge=1, le=720)) -> dict[str, Any]:
    points, markers = runtime.charts.funding_history(current.user.user_id, hours)
    return {"points": [{"at": p.at.isoformat(), "funding_hourly": format(p.funding_hourly, "f")} for p in points],
            "markers": [{"at": m.at.isoformat(), "kind": m.kind, "position_id": m.position_id, "text": m.text}
                        for m in markers]}


@router.get("/backtest")
def backtest(runtime: RuntimeDep, current: UserDep, preset: str = Query("balanced", max_length=20),
             leverage: Decimal | None = Query(None, ge=2, le=4, max_digits=4, decimal_places=2),
             capital: Decimal = Query(Decimal(10_000), gt=0, max_digits=12, decimal_places=2)) -> dict[str, Any]:
    return runtime.charts.backtest(preset, leverage, capital)
