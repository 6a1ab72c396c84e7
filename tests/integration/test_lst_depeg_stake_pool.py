"""The LST peg against its stake pool's redemption rate on chain: a discount ALREADY THERE at a fresh deploy's first
poll (no healthy market rate stored, ever) is refused at the preflight, and the tick leaves the LST out, both
naming the stake pool as their reference. The simulator's `/solana` node serves jitoSOL's and jupSOL's pool
accounts at the redemption rate; `POST /sim/asgard/lst-rate` moves Asgard's market price under it. Its own module:
its system's table holds no rates but the start's poll, which the clock leaves out of the week's lookback. INF (no
SPL stake pool) and an unreadable chain keep the market-based reference, which cannot see such a discount."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from dnbot.domain.assets import Asset
from dnbot.domain.lst_peg import PegReference, depegged_lsts
from dnbot.domain.presets import PRESETS, PresetName
from dnbot.local.system import LocalSystem
from dnbot.services.preflight_checks import lst_depeg_refusal
from dnbot.services.tick import StrategyTick
from dnbot.sim.world import Fault, FaultKind
from tests.integration.helpers import Terminal, log_in
from tests.integration.test_lst_depeg_open import _Captured, _lst_rate, _pending, _poll

pytestmark = pytest.mark.xdist_group("moto")

BALANCED_MAX_DEPEG = PRESETS[PresetName.BALANCED].exits.max_depeg
STAKE_POOL_WORDS = "by its stake pool's redemption rate on chain"


def _fresh_deploy_hour(system: LocalSystem) -> None:
    """Past the week of lookback of the start's poll: no healthy rate is stored anywhere."""
    assert system.sim is not None
    clock = f"{system.sim.base_url}/sim/clock"
    now = datetime.fromisoformat(httpx.get(clock).json()["now"])
    later = now + timedelta(days=8, hours=1)
    httpx.post(clock, json={"advance_seconds": (later.replace(minute=1, second=0) - now).total_seconds()})


def test_a_discount_present_at_the_first_poll_after_a_fresh_deploy_is_refused_at_preflight(
        sim_system: LocalSystem, terminal: Terminal) -> None:
    assert sim_system.sim is not None and sim_system.runtime is not None
    runtime = sim_system.runtime
    _fresh_deploy_hour(sim_system)
    user = log_in(sim_system, terminal, "pool-depeg@example.com")  # after the clock moved: a fresh session
    positions_url = f"{sim_system.sim.base_url}/sim/asgard/positions"
    before = len(httpx.get(positions_url).json())
    with _lst_rate(sim_system, "0.97"):  # 3 % under its redemption rate from the first poll on
        first = _poll(sim_system)
        hourly = runtime.store.hourly_snapshots(first.at - timedelta(days=7))
        assert [s.at for s in hourly] == [first.at]  # the only rates stored: the depegged ones
        pending = _pending(Asset.JITOSOL, first.at)
        # the market's best of the week is this very poll: on it alone, nothing looks wrong (the old gap)
        assert lst_depeg_refusal(pending, first, runtime.store, None) is None
        # the stake pool redeems at the full rate
        reason = lst_depeg_refusal(pending, first, runtime.store, None, runtime.stake_pools)
        assert reason is not None and reason.startswith("jitoSOL trades 3.0"), reason
        assert STAKE_POOL_WORDS in reason and f"over the {BALANCED_MAX_DEPEG:.2%} depeg limit" in reason

        reply = user.post("/api/v1/positions/open", {"asset": "jitoSOL", "protocol": "kamino", "leverage": "2",
                                                     "size_usd": "800"})
        assert reply.status_code == 202, reply.text
        job = user.wait_job(reply.json()["job_id"], timeout=60)
    assert job["status"] == "failed", job
    assert "jitoSOL trades 3.0" in job["error"] and STAKE_POOL_WORDS in job["error"], job["error"]
    assert job["stages"][-1]["name"] == "preflight"
    assert [s["name"] for s in job["stages"] if s["name"] in ("open_long", "open_short")] == []
    assert len(httpx.get(positions_url).json()) == before  # no long was created at Asgard


def test_the_tick_reads_the_pools_once_and_leaves_the_depegged_lst_out(sim_system: LocalSystem) -> None:
    assert sim_system.runtime is not None
    runtime = sim_system.runtime
    with _lst_rate(sim_system, "0.97"):
        snapshot = _poll(sim_system)
        captured = _Captured()
        report = StrategyTick(runtime.store, runtime.funding_source, runtime.kill_switch, captured, runtime.clock,
                              stake_pools=runtime.stake_pools).run()
        assert report.errors == {}, report
    context = next(m["context"] for m in captured.messages if m["kind"] == "users_page")
    assert isinstance(context, dict)
    references = context["lst_fair_sol_references"]
    assert references["jitoSOL"] == references["jupSOL"] == "stake_pool"
    assert references["INF"] == "market"  # Sanctum Infinity is no SPL stake pool
    fair = {Asset.parse(a): Decimal(r) for a, r in context["lst_fair_sol_rates"].items()}
    left_out = depegged_lsts(snapshot, fair, BALANCED_MAX_DEPEG,
                             {Asset.parse(a): PegReference(r) for a, r in references.items()})
    assert set(left_out) == {Asset.JITOSOL}
    assert STAKE_POOL_WORDS in left_out[Asset.JITOSOL]


def test_an_unreadable_chain_falls_back_to_the_market_reference(sim_system: LocalSystem) -> None:
    """The node down: the market's reference stands (logged), which cannot see a discount as old as every price
    stored; the open is then not refused for it, like a missing reading (docs/reliability.md)."""
    assert sim_system.sim is not None and sim_system.runtime is not None
    runtime = sim_system.runtime
    _fresh_deploy_hour(sim_system)
    with _lst_rate(sim_system, "0.97"):
        first = _poll(sim_system)
        pending = _pending(Asset.JITOSOL, first.at)
        sim_system.sim.world.faults.inject(Fault("solana", "getAccountInfo", FaultKind.SERVER_ERROR))
        try:
            assert lst_depeg_refusal(pending, first, runtime.store, None, runtime.stake_pools) is None
        finally:
            sim_system.sim.world.faults.clear()
        assert lst_depeg_refusal(pending, first, runtime.store, None, runtime.stake_pools) is not None
