"""The rebalance workflow's steps (services/rebalance.py, PositionRebalancer.steps) over in-memory venues: the
numbering that makes a duplicate or late run a no-op, the retriable lost answers, the compensation (the short sold
back, or the long's update found landed), the close asked for through the queue, needs_attention."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.positions import PositionStatus
from dnbot.ports import AmbiguousVenueError, TransientVenueError, VenueRejected
from dnbot.services.rebalance import (
    PositionRebalancer,
    RebalanceLegPending,
    RebalanceNotInFlight,
    RestoreFailed,
)
from tests.unit.fakes import Clock, Ledger
from tests.unit.test_rebalance_service import Log, Queue, Venues, opened

D = Decimal


class Switch:
    def __init__(self, value: KillSwitch = KillSwitch.OFF) -> None:
        self.value, self.fresh_reads = value, 0

    def kill_switch(self, *, fresh: bool = False) -> KillSwitch:
        self.fresh_reads += fresh
        return self.value


class Steps:
    def __init__(self, price: Decimal, switch: KillSwitch = KillSwitch.OFF) -> None:
        self.ledger, self.venues, self.log = Ledger(opened()), Venues(price), Log()
        self.switch, self.queue = Switch(switch), Queue()
        self.steps = PositionRebalancer(self.ledger, self.venues, self.venues, Clock(), activity=self.log,
                                        alerts=self.log, kill_switch=self.switch, closes=self.queue).steps()

    def run(self, step: str, number: int = 1, **extra: Any) -> dict[str, Any]:
        state = {"user_id": "u1", "position_id": "p1", "number": number, "reason": "distance",
                 "target_distance": "0.3", **extra}
        return self.steps[step](state)


def test_the_happy_path_and_a_duplicate_or_late_run_trades_nothing() -> None:
    s = Steps(D(70))
    assert s.run("rebalance_preflight")["outcome"] == "started" and s.switch.fresh_reads == 1
    intent = s.ledger.items["p1"].rebalancing
    assert intent is not None and intent.number == 1 and s.ledger.items["p1"].rebalances == 1
    assert s.run("rebalance_preflight")["outcome"] == "started"  # a retried preflight resumes the same intent
    assert s.ledger.items["p1"].rebalancing == intent
    assert s.run("rebalance_preflight", number=2)["outcome"] == "refused"  # another number while 1 is in flight
    bought = s.run("rebalance_short")["bought_sol"]
    assert D(bought) == intent.reduce_sol and s.run("rebalance_short")["bought_sol"] == bought  # once per cloid
    s.run("rebalance_long")
    s.run("rebalance_long")  # the update count says it landed: not sent again
    assert s.venues.updates == 1
    assert s.run("mark_rebalanced")["outcome"] == "rebalanced"
    assert s.run("mark_rebalanced")["outcome"] == "rebalanced"  # rerun after a crash: already recorded
    position = s.ledger.items["p1"]
    assert position.rebalancing is None and position.short_leg is not None
    assert position.short_leg.size == s.venues.short == D(10) - intent.reduce_sol
    assert [kind for kind, _ in s.log.events] == ["position_rebalanced"]
    for step in ("rebalance_short", "rebalance_long"):
        with pytest.raises(RebalanceNotInFlight):
            s.run(step)
    assert s.run("rebalance_preflight")["outcome"] == "done"
    assert s.run("rebalance_preflight", number=3)["outcome"] == "refused"  # not the next number
    assert s.venues.updates == 1 and s.queue.sent == []


def test_close_all_refuses_before_anything_is_written() -> None:
    s = Steps(D(70), KillSwitch.CLOSE_ALL)
    assert s.run("rebalance_preflight")["outcome"] == "refused"
    assert s.ledger.items["p1"].rebalancing is None and s.ledger.items["p1"].rebalances == 0


@pytest.mark.parametrize("where", ["short", "long"])
def test_a_lost_answer_is_a_retriable_error_and_the_retry_trades_once(where: str) -> None:
    s = Steps(D(70))
    s.run("rebalance_preflight")
    if where == "short":
        s.venues.refuse_steps["rebalance-1"] = AmbiguousVenueError("no answer")
    else:
        s.run("rebalance_short")
        s.venues.refuse_long = AmbiguousVenueError("no answer")
    with pytest.raises(RebalanceLegPending) as raised:
        s.run(f"rebalance_{where}")
    assert isinstance(raised.value, TransientVenueError)  # the state machine retries it by name
    s.venues.refuse_steps.clear()
    s.venues.refuse_long = None
    s.run("rebalance_short")
    s.run("rebalance_long")
    assert s.run("mark_rebalanced")["outcome"] == "rebalanced" and s.venues.updates == 1


def test_the_long_refused_the_short_is_sold_back_and_the_close_is_asked_for() -> None:
    s = Steps(D(70))
    s.run("rebalance_preflight")
    s.run("rebalance_short")
    s.venues.refuse_long = VenueRejected("Asgard refused the deleverage")
    with pytest.raises(VenueRejected):
        s.run("rebalance_long")
    error = {"Error": "VenueRejected", "Cause": '{"errorMessage": "Asgard refused the deleverage"}'}
    restored = s.run("rebalance_restore", error=error)
    assert restored["outcome"] == "undone", restored
    assert s.venues.short == D(10) and s.venues.updates == 0
    position = s.ledger.items["p1"]
    assert position.rebalancing is None and position.short_leg == opened().short_leg
    assert [kind for kind, _ in s.log.alerts] == ["rebalance_failed"]
    assert s.run("rebalance_restore", error=error)["outcome"] == "gone"  # a rerun sells nothing back
    s.run("rebalance_close_instead", outcome="undone", detail=restored["detail"])
    (message,) = s.queue.sent
    assert message["kind"] == "close" and message["position_id"] == "p1"
    assert message["reason"].startswith("rebalance failed (") and "Asgard refused the deleverage" in message["reason"]


def test_a_long_update_that_landed_after_all_is_finished_not_restored() -> None:
    s = Steps(D(70))
    s.run("rebalance_preflight")
    s.run("rebalance_short")
    s.run("rebalance_long")  # it landed; the step's answer was lost and its retries ran out
    assert s.run("rebalance_restore")["outcome"] == "landed"
    assert "restore-1" not in s.venues.steps
    assert s.run("mark_rebalanced")["outcome"] == "rebalanced"


def test_no_reduction_restores_it_the_close_is_asked_for() -> None:
    s = Steps(D(400))  # the short's rise needs more than the whole position
    state = s.run("rebalance_preflight")
    assert state["outcome"] == "cannot", state
    s.steps["rebalance_close_instead"](state)
    assert s.queue.sent[0]["reason"].startswith("rebalance impossible (")


def test_the_restore_refused_goes_to_needs_attention_with_an_alert() -> None:
    s = Steps(D(70))
    s.run("rebalance_preflight")
    s.run("rebalance_short")
    s.venues.refuse_long = VenueRejected("Asgard refused the deleverage")
    s.venues.refuse_steps["restore-1"] = VenueRejected("Insufficient margin to place order.")
    with pytest.raises(RestoreFailed):
        s.run("rebalance_restore")
    s.run("rebalance_needs_attention", error={"Error": "RestoreFailed", "Cause": "the short could not be restored"})
    position = s.ledger.items["p1"]
    assert position.status is PositionStatus.NEEDS_ATTENTION and position.rebalancing is None
    assert s.venues.long_size >= s.venues.short  # the long is the larger leg: no naked short
    assert [kind for kind, _ in s.log.alerts] == ["needs_attention"]
    assert s.queue.sent == []
