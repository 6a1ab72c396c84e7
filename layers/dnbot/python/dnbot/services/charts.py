"""The dashboard's charts: Hyperliquid's hourly funding with the bot's entries and exits, and "what would this
preset have earned" from the same backtest engine as `dnbot backtest` (read-only use of dnbot.backtest)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dnbot.domain.pnl import CENT
from dnbot.domain.positions import PositionStatus
from dnbot.domain.presets import MAX_LEVERAGE, MIN_LEVERAGE, Preset
from dnbot.ports import Clock, FundingSource, PositionStore
from dnbot.services.errors import ServiceError, Unavailable

if TYPE_CHECKING:
    from dnbot.backtest.history import MarketHistory

MAX_FUNDING_HOURS = 24 * 30
MAX_BACKTEST_CAPITAL = Decimal(10_000_000)


@dataclass(frozen=True, slots=True)
class FundingPoint:
    at: datetime  # the start of the hour the rate applied to
    funding_hourly: Decimal  # positive: longs paid shorts (the bot's short earned)


@dataclass(frozen=True, slots=True)
class Marker:
    at: datetime
    kind: str  # "entry" | "exit"
    position_id: str
    text: str


class ChartsService:
    def __init__(self, funding: FundingSource, positions: PositionStore, clock: Clock,
                 recorded_data_dir: Path | None = None) -> None:
        self._funding = funding
        self._positions = positions
        self._clock = clock
        self._data_dir = recorded_data_dir
        self._history: MarketHistory | None = None
        self._lock = threading.Lock()
        self._results: dict[tuple[str, str, str], dict[str, Any]] = {}

    def funding_history(self, user_id: str, hours: int) -> tuple[list[FundingPoint], list[Marker]]:
        if not 1 <= hours <= MAX_FUNDING_HOURS:
            raise ServiceError(f"hours must be between 1 and {MAX_FUNDING_HOURS}.", code="invalid_hours")
        try:
            rates = self._funding.funding_history_hourly(hours)
        except Exception as error:  # the venue: say so, the page stays
            raise Unavailable("Hyperliquid's funding history cannot be read right now; try again in a minute.",
                              code="funding_unavailable") from error
        last = self._clock.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        points = [FundingPoint(last - timedelta(hours=len(rates) - 1 - i), rate) for i, rate in enumerate(rates)]
        since = points[0].at if points else self._clock.now() - timedelta(hours=hours)
        markers: list[Marker] = []
        for p in self._positions.list_positions(user_id):
            if p.long_leg is None:
                continue
            if p.created_at >= since:
                markers.append(Marker(p.created_at, "entry", p.position_id, f"open {p.asset.value}"))
            if p.status in (PositionStatus.CLOSED, PositionStatus.FAILED) and p.updated_at >= since:
                markers.append(Marker(p.updated_at, "exit", p.position_id, f"close {p.asset.value}"))
        return points, sorted(markers, key=lambda m: m.at)

    def backtest(self, preset: str, leverage: Decimal | None, capital_usd: Decimal) -> dict[str, Any]:
        """The preset replayed over the recorded data by `dnbot backtest`'s engine: totals, PnL by source,
        trades, and the equity curve by day. Cached per input (the recordings do not change while running)."""
        try:
            chosen = Preset.parse(preset)
        except ValueError as bad:
            raise ServiceError(str(bad), code="invalid_preset") from bad
        if leverage is not None and not MIN_LEVERAGE <= leverage <= MAX_LEVERAGE:
            raise ServiceError(f"Leverage must be between {MIN_LEVERAGE}x and {MAX_LEVERAGE}x.",
                               code="invalid_leverage")
        if not Decimal(100) <= capital_usd <= MAX_BACKTEST_CAPITAL:
            raise ServiceError("Capital must be between $100 and $10,000,000.", code="invalid_capital")
        key = (chosen.name.value, str(leverage), str(capital_usd))
        with self._lock:
            if key in self._results:
                return self._results[key]
            from dnbot.backtest.engine import BacktestConfig, Backtester

            result = Backtester(self._market_history()).run(
                BacktestConfig(capital_usd=capital_usd, preset=chosen, leverage=leverage))
            reply = result.to_json()
            daily: dict[str, dict[str, str]] = {}
            for point in result.series:
                parts = point.pnl.to_cents()
                daily[point.at.date().isoformat()] = {
                    "at": point.at.isoformat(), "equity_usd": format(point.equity.quantize(CENT), "f"),
                    **{f"{name}_usd": format(value, "f") for name, value in parts.as_dict().items()}}
            reply["series"] = list(daily.values())
            reply["trade_list"] = [{
                "asset": t.asset.value, "protocol": t.protocol.label, "leverage": format(t.leverage, "f"),
                "opened_at": t.opened_at.isoformat(), "closed_at": t.closed_at.isoformat() if t.closed_at else None,
                "pnl_usd": format(t.pnl_usd.quantize(CENT), "f"), "close_reason": t.close_reason}
                for t in result.trades]
            self._results[key] = reply
            return reply

    def _market_history(self) -> MarketHistory:
        if self._history is None:
            from dnbot.backtest.history import MarketHistory
            from dnbot.marketdata.recorded import RecordedData, default_data_dir

            self._history = MarketHistory(RecordedData(self._data_dir or default_data_dir()))
        return self._history
