"""Operator metrics derived from the state table's stream (ws_broadcast sees every change, whoever made it):
a position entering needs_attention, and the funding a closed position earned.

Pure: (old image, new image) pairs in, (metric name, value) pairs out; the handler emits them (EMF).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from dnbot import observability

Item = Mapping[str, Any]
NEEDS_ATTENTION = "needs_attention"  # PositionStatus.NEEDS_ATTENTION's stored value
CLOSED_ACTIVITY = "position_closed"  # PositionJournal.closed's activity kind; detail carries funding_usd


def stream_signals(changes: Iterable[tuple[Item, Item]]) -> list[tuple[str, float]]:
    signals: list[tuple[str, float]] = []
    for old, new in changes:
        kind = new.get("type")
        if kind == "position" and new.get("status") == NEEDS_ATTENTION and old.get("status") != NEEDS_ATTENTION:
            signals.append((observability.POSITION_NEEDS_ATTENTION, 1.0))
        elif kind == "activity" and new.get("kind") == CLOSED_ACTIVITY and not old:
            detail = new.get("detail")
            funding = detail.get("funding_usd") if isinstance(detail, Mapping) else None
            try:
                if funding is not None:
                    signals.append((observability.FUNDING_EARNED_USD, float(Decimal(str(funding)))))
            except InvalidOperation:
                continue
    return signals


def fleet_gauges(open_positions: Iterable[Any]) -> list[tuple[str, float]]:
    """Positions open and the capital they hold (each leg's notional over the leverage: collateral and margin),
    for the operator's dashboard. Takes dnbot.domain.positions.Position objects."""
    count, capital = 0, Decimal(0)
    for position in open_positions:
        count += 1
        legs = [leg for leg in (position.long_leg, position.short_leg) if leg is not None]
        capital += sum((leg.notional_usd for leg in legs), Decimal(0)) / position.leverage
    return [(observability.POSITIONS_OPEN, float(count)),
            (observability.CAPITAL_DEPLOYED_USD, float(capital.quantize(Decimal("0.01"))))]
