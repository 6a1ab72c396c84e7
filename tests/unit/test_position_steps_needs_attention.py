"""The close workflow's needs_attention says what is true at the venues (services/position_steps.py,
mark_needs_attention): a close that could not close its FIRST leg kept the other on purpose, so both legs are open
and hedged; a close that closed one leg and then failed, or whose failed call may still land, may have left a leg
without its hedge. Run through the close state machine's definition (tests/unit/workflows/walk.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Job, JobKind, JobStatus, Leg, Position, PositionStatus
from dnbot.ports import AmbiguousVenueError, LongFill, ShortFill, TransientVenueError, VenueRejected
from dnbot.services.position_steps import PositionSteps, StepLimits
from tests.unit.fakes import NOW, Alerts, Clock, Ledger
from tests.unit.workflows.walk import Execution, run_workflow

D = Decimal
HEDGED = "close incomplete: the Asgard long could not be closed; both legs are still open and hedged: "
NAKED = "compensation failed, a leg may be open: "


class Store(Ledger):
    """The positions and jobs tables (a versioned conditional save, as DynamoDB's)."""

    def __init__(self, position: Position, job: Job) -> None:
        super().__init__(position)
        self.jobs = {job.job_id: job}

    def put_job(self, job: Job) -> None:
        self.jobs[job.job_id] = job

    def get_job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)


class Venues:
    """The position's 10 SOL long at Asgard and its 10 SOL short at Hyperliquid; `refuse[leg]` fails its close."""

    def __init__(self) -> None:
        self.long_open = self.short_open = True
        self.refuse: dict[str, Exception] = {}

    def find_long(self, user_id: str, position_id: str) -> LongFill | None:
        return LongFill("pda", D(10), D(100), D(1000), D(1)) if self.long_open else None

    def close_long(self, user_id: str, position_id: str) -> Decimal:
        if "long" in self.refuse:
            raise self.refuse["long"]
        self.long_open = False
        return D(495)

    def find_short(self, user_id: str, position_id: str) -> ShortFill | None:
        return ShortFill("cloid", D(10), D(100), D("0.45")) if self.short_open else None

    def close_short(self, user_id: str, position_id: str, size_sol: Decimal) -> Decimal:
        if "short" in self.refuse:
            raise self.refuse["short"]
        self.short_open = False
        return D(0)

    def funding_usd(self, user_id: str, position_id: str, since: datetime) -> Decimal:
        return D(0)


class Close:
    def __init__(self) -> None:
        position = Position("p1", "u1", Asset.SOL, Protocol.DRIFT, D(2), D(1000), PositionStatus.OPEN, NOW, NOW,
                            long_leg=Leg("asgard", D(10), D(100), D(1000), D(1), "pda"),
                            short_leg=Leg("hyperliquid", D(10), D(100), D(1000), D("0.45"), "cloid"))
        self.store = Store(position, Job("j1", "u1", "p1", JobKind.CLOSE, JobStatus.RUNNING, NOW, NOW))
        self.venues, self.alerts = Venues(), Alerts()
        unused: Any = None  # the open's rates, kill switch and funding feed: a close never reads them
        self.steps = PositionSteps(self.store, self.store, unused, unused, unused, self.venues, self.venues,
                                   Clock(), StepLimits(60, D("0.005"), D("0.01")), alerts=self.alerts)

    def run(self) -> Execution:
        steps = {name: (lambda state, name=name: self.steps.run(name, state))
                 for name in ("close_preflight", "close_short", "close_long", "reconcile", "mark_closed",
                              "mark_needs_attention")}
        return run_workflow("close_position", steps, {"user_id": "u1", "position_id": "p1", "job_id": "j1",
                                                      "reason": "user"})

    def flagged(self, run: Execution) -> str:
        """The failure recorded on the position, checked to be the job's error and the operator's alert."""
        assert run.status == "FAILED" and run.entered[-2:] == ["MarkCloseNeedsAttention", "CloseFailed"], run
        position = self.store.items["p1"]
        assert position.status is PositionStatus.NEEDS_ATTENTION and position.failure is not None
        assert self.store.jobs["j1"].error == position.failure
        assert self.alerts.sent == [("needs_attention", f"position p1: {position.failure}")]
        return position.failure


@pytest.mark.parametrize("error", [VenueRejected("Asgard refused the close"), TransientVenueError("Asgard 503")])
def test_a_close_whose_long_cannot_close_rests_hedged_and_says_so(error: Exception) -> None:
    c = Close()
    c.venues.refuse["long"] = error
    run = c.run()
    failure = c.flagged(run)
    assert failure == f"{HEDGED}{type(error).__name__}: {error}"
    assert "CloseShortSecond" not in run.entered and c.venues.long_open and c.venues.short_open  # truly hedged


def test_a_close_whose_short_fails_after_the_long_closed_may_have_a_naked_leg() -> None:
    c = Close()
    c.venues.refuse["short"] = VenueRejected("Insufficient margin")
    failure = c.flagged(c.run())
    assert failure == f"{NAKED}VenueRejected: Insufficient margin"
    assert not c.venues.long_open and c.venues.short_open  # the short is open without its long


def test_a_long_close_that_may_still_land_is_not_called_hedged() -> None:
    """The submit was sent and not answered: the long may be closed, leaving the short alone."""
    c = Close()
    c.venues.refuse["long"] = AmbiguousVenueError("Asgard /submit-close-position-tx: 502 after sending")
    failure = c.flagged(c.run())
    assert failure.startswith(f"{NAKED}AmbiguousVenueError: ")


def test_an_open_whose_unwind_failed_keeps_the_old_wording() -> None:
    c = Close()
    c.store.jobs["j1"] = replace(c.store.jobs["j1"], kind=JobKind.OPEN)
    error = {"Error": "VenueRejected", "Cause": '{"errorMessage": "Asgard is down"}'}
    c.steps.run("mark_needs_attention", {"user_id": "u1", "position_id": "p1", "job_id": "j1", "error": error})
    assert c.store.items["p1"].failure == f"{NAKED}VenueRejected: Asgard is down"
