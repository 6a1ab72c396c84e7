"""`dnbot local` prints the operator's alerts in its terminal, one line each (where AWS publishes to SNS)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from dnbot.adapters.aws.alerts import alert_line


class TerminalAlerts:
    """AlertSink printing `dnbot local: ALERT <kind> user=<id> position=<id>: <message>`; keeps what it printed."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say
        self._lock = threading.Lock()
        self.sent: list[dict[str, Any]] = []

    def alert(self, kind: str, message: str, *, user_id: str | None = None, position_id: str | None = None,
              detail: dict[str, Any] | None = None) -> None:
        with self._lock:
            self.sent.append({"kind": kind, "message": message, "user_id": user_id, "position_id": position_id,
                              "detail": dict(detail or {})})
        with contextlib.suppress(Exception):  # a closed terminal must not fail the step that alerts
            self._say("dnbot local: " + alert_line(kind, message, user_id=user_id, position_id=position_id))
