"""Drives the scheduled functions on their EventBridge rates (moto's EventBridge never fires)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from dnbot.local.functions import LocalFunctions
from dnbot.resources import FUNCTIONS, FunctionSpec

logger = logging.getLogger(__name__)


def scheduled_event(spec: FunctionSpec, now: datetime) -> dict[str, object]:
    """The event EventBridge Scheduler sends, as far as a handler may read it."""
    return {"version": "0", "id": f"local-{spec.name}-{int(now.timestamp())}", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1", "resources": [f"local:schedule/dnbot-{spec.name}"], "detail": {}}


class LocalScheduler:
    def __init__(self, functions: LocalFunctions, now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_error: Callable[[str, Exception], None] | None = None) -> None:
        self._functions = functions
        self._now = now
        self._on_error = on_error
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def run_once(self, name: str) -> object:
        spec = next(s for s in FUNCTIONS if s.name == name)
        return self._functions.invoke(name, scheduled_event(spec, self._now()))

    def _loop(self, spec: FunctionSpec) -> None:
        assert spec.schedule_minutes is not None
        while not self._stop.is_set():
            try:
                self.run_once(spec.name)
            except Exception as error:  # a failed run is logged; the next one still comes, as in AWS
                logger.exception("scheduled %s failed", spec.name)
                if self._on_error:
                    self._on_error(spec.name, error)
            self._stop.wait(spec.schedule_minutes * 60)

    def start(self, names: tuple[str, ...] | None = None) -> None:
        for spec in FUNCTIONS:
            if spec.schedule_minutes is None or (names is not None and spec.name not in names):
                continue
            thread = threading.Thread(target=self._loop, args=(spec,), name=f"schedule-{spec.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
