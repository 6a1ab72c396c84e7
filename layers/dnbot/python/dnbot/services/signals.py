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
