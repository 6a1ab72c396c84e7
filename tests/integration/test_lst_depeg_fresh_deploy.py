"""The depeg guard in a fresh deploy's first hour (`dnbot local --fresh`): its own module, so its system's table
holds no rates but the start's poll (a week ago, once the clock moved) and the ones polled here. The hour's stored
snapshot is overwritten by each poll, so a depeg after the first poll used to leave no healthy rate to compare
with: the poller now keeps each LST's best rate of the hour aside (RATES / PEG#), and the open is refused at the
preflight."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from dnbot.local.system import LocalSystem
from tests.integration.helpers import Terminal, log_in
from tests.integration.test_lst_depeg_open import _lst_rate, _poll

pytestmark = pytest.mark.xdist_group("moto")


def test_a_depeg_after_the_first_poll_of_the_first_hour_fails_the_open_at_preflight(
        sim_system: LocalSystem, terminal: Terminal) -> None:
    assert sim_system.sim is not None and sim_system.runtime is not None
    clock = f"{sim_system.sim.base_url}/sim/clock"
    now = datetime.fromisoformat(httpx.get(clock).json()["now"])
    # the start already polled: past the week of lookback, so no stored rate counts, and to HH:01 of an hour, so
    # both polls below fall in that one hour (the first hour of a fresh deploy)
    later = now + timedelta(days=8, hours=1)
    httpx.post(clock, json={"advance_seconds": (later.replace(minute=1, second=0) - now).total_seconds()})
    first = _poll(sim_system)  # healthy
    user = log_in(sim_system, terminal, "fresh-depeg@example.com")  # after the clock moved: a fresh session
    positions_url = f"{sim_system.sim.base_url}/sim/asgard/positions"
    before = len(httpx.get(positions_url).json())
    with _lst_rate(sim_system, "0.97"):  # 3 % under its redemption rate: over balanced's 2 %
        depegged = _poll(sim_system)
        assert depegged.at.replace(minute=0, second=0, microsecond=0) == first.at.replace(
            minute=0, second=0, microsecond=0)
        # the hourly history holds only this hour, and its snapshot is the depegged poll
        hourly = sim_system.runtime.store.hourly_snapshots(depegged.at - timedelta(days=7))
        assert [s.at for s in hourly] == [depegged.at]
        reply = user.post("/api/v1/positions/open", {"asset": "jitoSOL", "protocol": "kamino", "leverage": "2",
                                                     "size_usd": "800"})
        assert reply.status_code == 202, reply.text
        job = user.wait_job(reply.json()["job_id"], timeout=60)
    assert job["status"] == "failed", job
    assert "jitoSOL trades 3.0" in job["error"] and "depeg limit" in job["error"]
    assert job["stages"][-1]["name"] == "preflight"
    assert [s["name"] for s in job["stages"] if s["name"] in ("open_long", "open_short")] == []
    assert len(httpx.get(positions_url).json()) == before  # no long was created at Asgard
