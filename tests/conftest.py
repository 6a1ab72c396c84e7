"""Fixtures every test directory may use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dnbot.sim.server import RunningSim, start_in_thread


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSim]:
    """The venue simulator served from a thread for the module's tests (its own world: fresh each module)."""
    running = start_in_thread()
    try:
        yield running
    finally:
        running.stop()
