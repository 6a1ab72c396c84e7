"""Issue 8: an LST depeg closes an open position (the `max_depeg` breaker) and also stops NEW opens of it. The
prices come from the simulator's Asgard through the production adapter and the rates poller, and the sim's
`POST /sim/asgard/lst-rate` moves the LST's market rate under its redemption rate."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal

import httpx
import pytest

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Position, PositionStatus
from dnbot.domain.presets import PRESETS, PresetName
from dnbot.domain.rates import RatesSnapshot
from dnbot.local.system import LocalSystem
from dnbot.services.preflight_checks import lst_depeg_refusal
from dnbot.services.tick import StrategyTick, WorkerOutcome
from tests.integration.helpers import Client, SteadyFunding, Terminal, log_in

pytestmark = pytest.mark.xdist_group("moto")

BALANCED_MAX_DEPEG = PRESETS[PresetName.BALANCED].exits.max_depeg
RICH_FUNDING_HOURLY = Decimal("0.0003")  # every pair's carry clears the bar: the ranking decides the pair


def _pending(asset: Asset, at: datetime) -> Position:
    return Position(position_id=f"pending-{asset.value}", user_id="no-such-user", asset=asset,
                    protocol=Protocol.KAMINO, leverage=Decimal(3), target_notional_usd=Decimal(1200),
                    status=PositionStatus.PENDING, created_at=at, updated_at=at)


def _poll(system: LocalSystem) -> RatesSnapshot:
    assert system.runtime is not None
    system.functions.invoke("rates_poller", {})
    snapshot = system.runtime.store.latest_snapshot()
    assert snapshot is not None
    return snapshot


@contextmanager
def _lst_rate(system: LocalSystem, factor: str, asset: str = "jitoSOL") -> Iterator[dict[str, str]]:
    assert system.sim is not None
    url = f"{system.sim.base_url}/sim/asgard/lst-rate"
    reply = httpx.post(url, json={"asset": asset, "factor": factor})
    assert reply.status_code == 200, reply.text
    try:
        yield reply.json()
    finally:
        httpx.post(url, json={"asset": asset, "factor": "1"})


def test_a_depegged_lst_is_refused_at_the_preflight_and_sol_is_not(sim_system: LocalSystem) -> None:
    assert sim_system.sim is not None and sim_system.runtime is not None
    store = sim_system.runtime.store
    _poll(sim_system)  # an hour of healthy prices: the fair rate's anchor
    httpx.post(f"{sim_system.sim.base_url}/sim/clock", json={"advance_hours": 2})
    healthy = _poll(sim_system)
    jito, sol = _pending(Asset.JITOSOL, healthy.at), _pending(Asset.SOL, healthy.at)
    priced = next(m for m in healthy.markets if m.asset is Asset.JITOSOL)
    assert priced.price_usd is not None and priced.price_usd > 0  # the poller stored Asgard's jitoSOL price
    assert lst_depeg_refusal(jito, healthy, store, store) is None

    with _lst_rate(sim_system, "0.97"):  # 3 % under its redemption rate: over balanced's 2 %
        depegged = _poll(sim_system)
        reason = lst_depeg_refusal(jito, depegged, store, store)
        assert reason is not None and reason.startswith("jitoSOL trades 3.0")
        assert f"over the {BALANCED_MAX_DEPEG:.2%} depeg limit" in reason
        assert lst_depeg_refusal(sol, depegged, store, store) is None  # SOL has no peg to lose

    with _lst_rate(sim_system, "0.99"):  # 1 % under: within the limit, the open goes ahead
        assert lst_depeg_refusal(jito, _poll(sim_system), store, store) is None
    assert lst_depeg_refusal(jito, _poll(sim_system), store, store) is None  # recovered


def test_an_open_of_a_depegged_lst_fails_at_preflight_with_nothing_at_the_venues(
        sim_system: LocalSystem, terminal: Terminal) -> None:
    """Through the running product: the user asks for a jitoSOL position while jitoSOL trades 3% under its
    redemption rate; the open job fails at the preflight with the figures, and no leg reaches either venue."""
    assert sim_system.sim is not None
    positions_url = f"{sim_system.sim.base_url}/sim/asgard/positions"
    before = len(httpx.get(positions_url).json())
    _poll(sim_system)
    httpx.post(f"{sim_system.sim.base_url}/sim/clock", json={"advance_hours": 2})
    user = log_in(sim_system, terminal, "depeg@example.com")  # after the clock moved: a fresh session
    with _lst_rate(sim_system, "0.97"):
        _poll(sim_system)
        reply = user.post("/api/v1/positions/open", {"asset": "jitoSOL", "protocol": "kamino", "leverage": "2",
                                                     "size_usd": "800"})
        assert reply.status_code == 202, reply.text
        job = user.wait_job(reply.json()["job_id"], timeout=60)
    assert job["status"] == "failed"
    assert "jitoSOL trades 3.0" in job["error"] and "depeg limit" in job["error"]
    assert [s["name"] for s in job["stages"] if s["name"] in ("open_long", "open_short")] == []
    assert len(httpx.get(positions_url).json()) == before  # no long was created at Asgard


class _Captured:
    """The tick's queue: keeps the message the tick would send (its context, read once for every user)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, object]] = []

    def send_batch(self, messages: list[dict[str, object]]) -> None:
        self.messages.extend(messages)


def _tick_for(system: LocalSystem, user: Client) -> WorkerOutcome:
    """The production tick reads its context, then the production worker decides for this one user."""
    runtime = system.runtime
    assert runtime is not None
    captured = _Captured()
    report = StrategyTick(runtime.store, runtime.funding_source, runtime.kill_switch, captured, runtime.clock).run()
    assert report.errors == {}, report
    context = next(m["context"] for m in captured.messages if m["kind"] == "users_page")
    user_id = user.get("/api/v1/auth/me").json()["user"]["user_id"]
    return runtime.tick_worker.handle({"kind": "user", "user_id": user_id, "context": context})


def _opened_asset(user: Client, outcome: WorkerOutcome) -> str:
    assert len(outcome.opened) == 1, outcome
    job = user.wait_job(outcome.opened[0], timeout=60)
    assert job["status"] == "succeeded", job
    return str(user.get(f"/api/v1/positions/{job['position_id']}").json()["asset"])


def test_the_tick_opens_the_best_healthy_pair_instead_of_a_depegged_lst(sim_system: LocalSystem,
                                                                        terminal: Terminal) -> None:
    """The best carry is an LST (INF on the simulator's recorded rates, jitoSOL on other days): healthy, the tick
    chooses it; depegged 3 % (over balanced's 2 %), the tick leaves it out, saying why, and opens the next best
    pair, which the preflight lets through."""
    assert sim_system.sim is not None and sim_system.runtime is not None
    runtime = sim_system.runtime
    venue = runtime.funding_source
    runtime.override(funding_source=SteadyFunding(venue, RICH_FUNDING_HOURLY))
    users: list[Client] = []
    try:
        _poll(sim_system)  # the healthy hour the fair rate is anchored on
        httpx.post(f"{sim_system.sim.base_url}/sim/clock", json={"advance_hours": 2})
        _poll(sim_system)
        users.extend(log_in(sim_system, terminal, f"{name}-tick-depeg@example.com") for name in ("alice", "bob"))
        alice, bob = users
        for user in users:
            assert user.post("/api/v1/control/start").json()["bot_status"] == "running"

        best = _opened_asset(bob, _tick_for(sim_system, bob))  # healthy: the best carry is chosen
        assert Asset.parse(best).is_lst, best

        with _lst_rate(sim_system, "0.97", best):
            _poll(sim_system)
            outcome = _tick_for(sim_system, alice)
            assert list(outcome.left_out) == [best]
            assert outcome.left_out[best].startswith(f"{best} trades 3.0")
            assert "depeg limit" in outcome.left_out[best]
            assert _opened_asset(alice, outcome) != best  # the next best healthy pair
    finally:
        runtime.override(funding_source=venue)
        for user in users:
            user.post("/api/v1/control/stop")
