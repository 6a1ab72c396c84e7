"""The simulator's clock: wall time x speed plus advances; a new speed never makes the time it reads jump."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dnbot.sim.world import SimClock

T0 = datetime(2025, 7, 1, tzinfo=UTC)


def test_speed_zero_holds_the_clock_and_a_new_speed_goes_on_from_there() -> None:
    wall = [1000.0]
    clock = SimClock(start=T0, speed=2.0, wall=lambda: wall[0])
    wall[0] += 10
    assert clock.now() == T0 + timedelta(seconds=20)
    assert clock.set_speed(0) == T0 + timedelta(seconds=20)
    wall[0] += 60
    assert clock.now() == T0 + timedelta(seconds=20)  # held
    clock.advance(timedelta(hours=1))  # a manual advance still moves it
    assert clock.now() == T0 + timedelta(hours=1, seconds=20)
    clock.set_speed(1.0)
    wall[0] += 5
    assert clock.now() == T0 + timedelta(hours=1, seconds=25)
    with pytest.raises(ValueError):
        clock.set_speed(-1)
