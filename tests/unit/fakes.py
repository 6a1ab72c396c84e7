"""In-memory fakes the service tests share: a clock stopped at NOW, an alert sink that keeps what it was sent, a
positions ledger with DynamoDB's versioned conditional save, and a long venue's reading of one long."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from dnbot.domain.positions import Position
from dnbot.ports import PositionConflict

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)


class Clock:
    def now(self) -> datetime:
        return NOW


@dataclass
class MovableClock:
    """A clock the test moves by hand (`clock.at += timedelta(...)`)."""

    at: datetime = NOW

    def now(self) -> datetime:
        return self.at


class Alerts:
    """AlertSink keeping (kind, message) of each alert."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def alert(self, kind: str, message: str, *, user_id: str | None = None, position_id: str | None = None,
              detail: dict[str, Any] | None = None) -> None:
        self.sent.append((kind, message))


class Ledger:
    """The positions table by position id; a save whose version is not the stored one raises PositionConflict."""

    def __init__(self, *positions: Position) -> None:
        self.items = {p.position_id: p for p in positions}

    def get_position(self, user_id: str, position_id: str) -> Position | None:
        return self.items.get(position_id)

    def list_positions(self, user_id: str) -> list[Position]:
        return [p for p in self.items.values() if p.user_id == user_id]

    def save_position(self, position: Position, *, expected_updated_at: datetime | None = None) -> Position:
        if self.items[position.position_id].version != position.version:
            raise PositionConflict(position.position_id)
        self.items[position.position_id] = saved = replace(position, version=position.version + 1)
        return saved


@dataclass(frozen=True)
class Long:
    """A long venue's reading of one long (dnbot.domain.position_risk.LongReading)."""

    value_usd: Decimal
    debt_usdc: Decimal
    size: Decimal
    drop_to_liquidation: Decimal = Decimal("0.3")
    health_factor: Decimal | None = None
