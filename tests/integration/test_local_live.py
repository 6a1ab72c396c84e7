"""`dnbot local --live`: the bot on today's public market data with paper legs, tested against the simulator's
public endpoints (the same wire protocol as Hyperliquid's /info and Asgard's markets, no keys)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from dnbot.local.paper_live import LivePaperVenues
from dnbot.local.system import LocalSystem
from dnbot.sim.server import RunningSim, start_in_thread
from tests.integration.helpers import Terminal, embedded_system, log_in

pytestmark = pytest.mark.xdist_group("moto")


@pytest.fixture(scope="module")
def public_venues() -> Iterator[RunningSim]:
    sim = start_in_thread()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def live(public_venues: RunningSim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalSystem, Terminal]]:
    terminal = Terminal()
    with embedded_system(tmp_path_factory.mktemp("live"), terminal, "live",
                         live_hyperliquid_url=public_venues.url("hyperliquid"),
                         live_asgard_url=public_venues.url("asgard")) as system:
        yield system, terminal


def test_rates_come_from_the_public_endpoints(live: tuple[LocalSystem, Terminal], public_venues: RunningSim) -> None:
    system, terminal = live
    assert any("live paper mode" in line for line in terminal.lines)
    assert system.runtime is not None
    snapshot = system.runtime.store.latest_snapshot()
    assert snapshot is not None and snapshot.source == "venues"
    world = public_venues.world
    assert snapshot.funding.funding_hourly == world.market.funding_hourly(world.clock.now())
    assert abs(snapshot.funding.oracle_price - world.market.sol_price(world.clock.now())) < Decimal("0.01")
    assert {m.asset.value for m in snapshot.markets} >= {"SOL"}


def test_open_and_close_on_paper_at_the_live_price(live: tuple[LocalSystem, Terminal],
                                                   public_venues: RunningSim) -> None:
    system, terminal = live
    assert isinstance(system.paper, LivePaperVenues)
    trader = log_in(system, terminal, "erin@example.com")
    opened = trader.wait_job(trader.post("/api/v1/positions/open",
                                         {"asset": "SOL", "protocol": "kamino", "size_usd": "600"}).json()["job_id"])
    assert opened["status"] == "succeeded", opened
    position_id, user_id = opened["position_id"], trader.get("/api/v1/auth/me").json()["user"]["user_id"]
    long_fill = system.paper.find_long(user_id, position_id)
    short_fill = system.paper.find_short(user_id, position_id)
    assert long_fill is not None and short_fill is not None  # the legs are paper ones...
    oracle = public_venues.world.market.sol_price(public_venues.world.clock.now())
    assert abs(long_fill.entry_price_usd - oracle) / oracle < Decimal("0.01")  # ...at the live price
    assert short_fill.average_price_usd == long_fill.entry_price_usd

    closing = trader.wait_job(trader.post(f"/api/v1/positions/{position_id}/close").json()["job_id"])
    assert closing["status"] == "succeeded", closing
    assert system.paper.find_long(user_id, position_id) is None
    assert trader.get(f"/api/v1/positions/{position_id}").json()["status"] == "closed"


def test_live_flags_are_checked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from dnbot import cli

    for argv, message in ((["--asgard-url", "http://127.0.0.1:1"], "are for --live"),
                          (["--live", "--hyperliquid-url", "ftp://x"], "must be http(s)"),
                          (["--live", "--data", str(tmp_path)], "choose one")):
        assert cli.main(["local", "--port", "0", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1


def test_live_runs_only_the_market_facing_schedules() -> None:
    from dnbot import resources
    from dnbot.local.system import LIVE_SCHEDULES

    scheduled = {f.name for f in resources.FUNCTIONS if f.schedule_minutes is not None}
    assert set(LIVE_SCHEDULES) <= scheduled
    assert not {"reconciler", "deposit_sweep"} & set(LIVE_SCHEDULES)  # they would read real venue accounts
