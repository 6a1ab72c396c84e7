"""The Trade Status card's "PnL 24h" through the running product on the simulator: an open position counts its
unrealized PnL (its open fees) once the hourly PnL snapshot has read it, as of that snapshot; once closed, the
figure is its realized PnL, exact (found in dnbot local: it showed $0.00 beside an open position at -$1.80)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest

from dnbot.local.system import LocalSystem
from tests.integration.helpers import Client, Terminal, embedded_system, log_in

pytestmark = pytest.mark.xdist_group("moto")
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def sim_system(tmp_path_factory: pytest.TempPathFactory, terminal: Terminal) -> Iterator[LocalSystem]:
    with embedded_system(tmp_path_factory.mktemp("state"), terminal, "sim") as local:
        yield local


def test_pnl_24h_counts_the_open_positions_unrealized_pnl_then_its_realized_pnl(sim_system: LocalSystem,
                                                                               terminal: Terminal) -> None:
    gus: Client = log_in(sim_system, terminal, f"gus-{uuid.uuid4().hex[:8]}@example.com")
    job = gus.wait_job(gus.post("/api/v1/positions/open", {"asset": "SOL", "protocol": "drift", "leverage": "3",
                                                            "size_usd": "1200"}).json()["job_id"], timeout=60)
    assert job["status"] == "succeeded", job
    position_id = job["position_id"]

    before = gus.get("/api/v1/status").json()  # no snapshot yet: the position counts 0, as of its open
    assert Decimal(before["pnl_24h_usd"]) == 0 and before["pnl_24h_as_of"] is not None

    assert sim_system.functions.invoke("pnl_snapshots", {"source": "aws.events"})["snapshots"] >= 1
    status = gus.get("/api/v1/status").json()
    live = next(p for p in gus.get("/api/v1/positions?view=active").json()["positions"]
                if p["position_id"] == position_id)
    unrealized = Decimal(live["pnl"]["total_usd"])
    fees = Decimal(live["pnl"]["fees_usd"])
    assert fees < 0  # the open's fees: what the card showed as $0.00
    assert abs(Decimal(status["pnl_24h_usd"]) - unrealized) <= CENT, (status, live["pnl"])
    assert Decimal(status["pnl_24h_usd"]) < 0
    point = gus.get(f"/api/v1/charts/positions/{position_id}").json()["points"][-1]
    assert datetime.fromisoformat(status["pnl_24h_as_of"]) == datetime.fromisoformat(point["at"])

    close = gus.wait_job(gus.post(f"/api/v1/positions/{position_id}/close").json()["job_id"], timeout=60)
    assert close["status"] == "succeeded", close
    realized = next(p for p in gus.get("/api/v1/positions?view=history").json()["positions"]
                    if p["position_id"] == position_id)["pnl"]["total_usd"]
    after = gus.get("/api/v1/status").json()
    assert Decimal(after["pnl_24h_usd"]) == Decimal(realized) < 0
    assert after["pnl_24h_as_of"] is None and after["positions_open"] == 0
