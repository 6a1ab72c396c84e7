"""needs_attention says what is true at the venues (services/position_steps.py, mark_needs_attention).

The close workflow: a close that could not close its FIRST leg kept the other on purpose, so both legs are open
and hedged; a close that closed one leg and then failed, or whose failed call may still land, may have left a leg
without its hedge. The open workflow's Unwind the same way, from how far its job stage says it got: the long not
closed with both legs on (hedged, or hedged only in part), the long closed and the short not, every leg closed
and only what followed failed. Run through the state machines' definitions (tests/unit/workflows/walk.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from functools import partial
from types import SimpleNamespace
from typing import Any

import pytest

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Job, JobKind, JobStatus, Leg, Position, PositionStatus
from dnbot.ports import (
    AmbiguousVenueError,
    LongFill,
    LongOpenRequest,
    PositionConflict,
    ShortFill,
    TransientVenueError,
    VenueRejected,
)
from dnbot.resources import KillSwitch
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
    """The position's 10 SOL long at Asgard and its 10 SOL short at Hyperliquid; `refuse[leg]` fails its close,
    `refuse[call]` an open's call (`open_short`, `adjust_short`); `later[call]` fails each call after the first."""

    def __init__(self) -> None:
        self.long_open = self.short_open = True
        self.short_size = D(10)
        self.fill_fraction = D(1)  # of each open_short
        self.refuse: dict[str, Exception] = {}
        self.later: dict[str, Exception] = {}
        self.calls: list[str] = []

    def _call(self, name: str, key: str) -> None:
        self.calls.append(name)
        if key in self.refuse:
            raise self.refuse[key]
        if name in self.later and self.calls.count(name) > 1:
            raise self.later[name]

    def open_long(self, request: LongOpenRequest) -> LongFill:
        self._call("open_long", "open_long")
        self.long_open = True
        return LongFill("pda", D(10), D(100), D(1000), D(1))

    def open_short(self, user_id: str, position_id: str, size_sol: Decimal) -> ShortFill:
        self._call("open_short", "open_short")
        self.short_open, self.short_size = True, size_sol * self.fill_fraction
        return ShortFill("cloid", self.short_size, D(100), D("0.45"))

    def adjust_short(self, user_id: str, position_id: str, add_sol: Decimal) -> ShortFill:
        self._call("adjust_short", "adjust_short")
        self.short_size += add_sol
        return ShortFill("cloid", self.short_size, D(100), D("0.45"))

    def sol_funding(self) -> Any:
        return SimpleNamespace(mark_price=D(100))

    def kill_switch(self, fresh: bool = False) -> KillSwitch:
        return KillSwitch.OFF

    def find_long(self, user_id: str, position_id: str) -> LongFill | None:
        return LongFill("pda", D(10), D(100), D(1000), D(1)) if self.long_open else None

    def close_long(self, user_id: str, position_id: str) -> Decimal:
        self._call("close_long", "long")
        was_open, self.long_open = self.long_open, False
        return D(495) if was_open else D(0)

    def find_short(self, user_id: str, position_id: str) -> ShortFill | None:
        return ShortFill("cloid", self.short_size, D(100), D("0.45")) if self.short_open else None

    def close_short(self, user_id: str, position_id: str, size_sol: Decimal) -> Decimal:
        self._call("close_short", "short")
        self.short_open = False
        return D(0)

    def funding_usd(self, user_id: str, position_id: str, since: datetime) -> Decimal:
        return D(0)

    def long_closing_fees_usd(self, user_id: str, position_id: str) -> Decimal:
        return D(0)

    def short_closing_fees_usd(self, user_id: str, position_id: str) -> Decimal:
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


def test_a_needs_attention_whose_job_never_reached_the_unwind_keeps_the_naked_wording() -> None:
    c = Close()
    c.store.jobs["j1"] = replace(c.store.jobs["j1"], kind=JobKind.OPEN)
    error = {"Error": "VenueRejected", "Cause": '{"errorMessage": "Asgard is down"}'}
    c.steps.run("mark_needs_attention", {"user_id": "u1", "position_id": "p1", "job_id": "j1", "error": error})
    assert c.store.items["p1"].failure == f"{NAKED}VenueRejected: Asgard is down"


# --- the open's Unwind ------------------------------------------------------------------------------------------


State = dict[str, Any]


def _passed(state: State) -> State:
    """Preflight and Reserve: they move no money, and pass here."""
    return state


class AlertsDown(Exception):
    """The operator's alert topic refused a publish."""


class UnwindAlerts(Alerts):
    """Alerts whose `unwind` publish fails when `down`."""

    down = False

    def alert(self, kind: str, message: str, *, user_id: str | None = None, position_id: str | None = None,
              detail: dict[str, Any] | None = None) -> None:
        if kind == "unwind" and self.down:
            raise AlertsDown("SNS publish refused")
        super().alert(kind, message)


class Open:
    """A $1,000 open at 2x (10 SOL at $100) through the open state machine: Preflight and Reserve pass (they move
    no money); the legs, ValidateFills, MarkOpen and the Unwind run on the in-memory venues."""

    def __init__(self) -> None:
        position = Position("p1", "u1", Asset.SOL, Protocol.DRIFT, D(2), D(1000), PositionStatus.PENDING, NOW, NOW)
        self.store = Store(position, Job("j1", "u1", "p1", JobKind.OPEN, JobStatus.RUNNING, NOW, NOW))
        self.venues, self.alerts = Venues(), UnwindAlerts()
        self.venues.long_open = self.venues.short_open = False
        self.mark_open_conflicts = False  # MarkOpen's write keeps conflicting: the open unwinds with both legs on
        unused: Any = None  # the rates: Preflight does not run here
        venues: Any = self.venues  # the kill switch, the funding feed and both venues, in one fake
        self.steps = PositionSteps(self.store, self.store, unused, venues, venues, venues, venues, Clock(),
                                   StepLimits(60, D("0.005"), D("0.01")), alerts=self.alerts)

    def _mark_open(self, state: State) -> State:
        if self.mark_open_conflicts:
            raise PositionConflict("p1")
        return self.steps.run("mark_open", state)

    def run(self) -> Execution:
        steps: dict[str, Callable[[State], State]] = {
            name: partial(self.steps.run, name)
            for name in ("open_long", "open_short", "validate_fills", "unwind", "mark_failed", "mark_needs_attention")}
        steps.update(preflight=_passed, reserve=_passed, mark_open=self._mark_open)
        return run_workflow("open_position", steps, {"user_id": "u1", "position_id": "p1", "job_id": "j1"})

    def flagged(self, run: Execution) -> str:
        """The failure recorded on the position, checked to be the job's error and the operator's alert."""
        assert run.status == "FAILED" and run.entered[-2:] == ["MarkNeedsAttention", "OpenFailed"], run
        position = self.store.items["p1"]
        assert position.status is PositionStatus.NEEDS_ATTENTION and position.failure is not None
        assert self.store.jobs["j1"].error == position.failure
        assert ("needs_attention", f"position p1: {position.failure}") in self.alerts.sent
        return position.failure


def test_an_unwound_open_says_which_legs_it_closed() -> None:
    """The unwind that works: failed (not needs_attention), its stage saying what it closed."""
    o = Open()
    o.venues.refuse["open_short"] = VenueRejected("Insufficient margin")
    run = o.run()
    assert run.entered[-3:] == ["Unwind", "MarkFailed", "OpenFailed"], run
    assert o.store.items["p1"].status is PositionStatus.FAILED and not o.venues.long_open
    unwind = o.store.jobs["j1"].stages[-1]
    assert (unwind.name, unwind.detail) == ("unwind", "the long was closed, no leg is open")


@pytest.mark.parametrize("error", [VenueRejected("Asgard refused the close"), TransientVenueError("Asgard 503")])
def test_an_unwind_whose_long_cannot_close_keeps_the_short_and_says_hedged(error: Exception) -> None:
    o = Open()
    o.mark_open_conflicts = True
    o.venues.refuse["long"] = error
    failure = o.flagged(o.run())
    assert failure == ("open unwind incomplete: the Asgard long could not be closed; both legs are still open and "
                       f"hedged: {type(error).__name__}: {error}")
    assert o.venues.long_open and o.venues.short_open and "close_short" not in o.venues.calls  # truly hedged


def test_an_unwind_whose_long_cannot_close_after_a_fill_mismatch_says_hedged_only_in_part() -> None:
    """The short filled half and its top-up was refused (FillMismatch); the long cannot close: half the long is
    without its hedge."""
    o = Open()
    o.venues.fill_fraction = D("0.5")
    o.venues.refuse["adjust_short"] = VenueRejected("the top-up was refused")
    o.venues.refuse["long"] = VenueRejected("Asgard is down")
    failure = o.flagged(o.run())
    assert failure == ("compensation failed, the long is hedged only in part: the Asgard long could not be closed; "
                       "its short is 5.000 SOL against 10.0000 SOL: VenueRejected: Asgard is down")
    assert o.venues.long_open and o.venues.short_open


def test_an_unwind_whose_long_cannot_close_without_a_short_says_a_leg_may_be_open() -> None:
    o = Open()
    o.venues.refuse["open_short"] = VenueRejected("Insufficient margin")
    o.venues.refuse["long"] = VenueRejected("Asgard refused the close")
    assert o.flagged(o.run()) == f"{NAKED}VenueRejected: Asgard refused the close"
    assert o.venues.long_open and not o.venues.short_open  # the long is naked


def test_an_unwind_that_closed_the_long_but_not_the_short_says_a_leg_may_be_open() -> None:
    o = Open()
    o.mark_open_conflicts = True
    o.venues.refuse["short"] = VenueRejected("reduce only order would increase position")
    failure = o.flagged(o.run())
    assert failure == (f"{NAKED}the long is closed, the Hyperliquid short could not be closed: VenueRejected: "
                       "reduce only order would increase position")
    assert not o.venues.long_open and o.venues.short_open  # the short is naked


def test_an_unwind_retried_after_the_long_closed_still_says_the_long_is_closed() -> None:
    """Hyperliquid down after the long closed, then Asgard down for the retries' (idempotent) close of the long:
    the failure is the short's, never "both legs still open"."""
    o = Open()
    o.mark_open_conflicts = True
    o.venues.refuse["short"] = TransientVenueError("Hyperliquid 503")
    o.venues.later["close_long"] = TransientVenueError("Asgard 503")
    failure = o.flagged(o.run())
    assert failure == (f"{NAKED}the long is closed, the Hyperliquid short could not be closed: "
                       "TransientVenueError: Asgard 503")
    assert o.venues.calls.count("close_long") > 1 and not o.venues.long_open and o.venues.short_open


def test_an_unwind_whose_close_may_still_land_says_a_leg_may_be_open() -> None:
    o = Open()
    o.mark_open_conflicts = True
    o.venues.refuse["long"] = AmbiguousVenueError("Asgard /submit-close-position-tx: 502 after sending")
    assert o.flagged(o.run()).startswith(f"{NAKED}AmbiguousVenueError: ")


def test_an_unwind_that_closed_both_legs_then_failed_says_no_leg_is_open() -> None:
    o = Open()
    o.mark_open_conflicts = True
    o.alerts.down = True
    failure = o.flagged(o.run())
    assert failure == ("open unwound: the long and the short were closed, no leg is open; what followed failed: "
                       "AlertsDown: SNS publish refused")
    assert not o.venues.long_open and not o.venues.short_open
