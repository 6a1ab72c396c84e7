"""`dnbot local --state-dir` keeps what a trader did: after a restart the same user logs in to the same wallets,
settings and open position, the venues still hold its legs (it closes for real), and `--fresh` starts over."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from dnbot.local.system import LocalSystem
from tests.integration.helpers import Terminal, log_in

pytestmark = pytest.mark.xdist_group("moto")


def _start(state_dir: Path, terminal: Terminal, fresh: bool = False) -> LocalSystem:
    system = LocalSystem(port=0, state_dir=state_dir, scheduled=False, say=terminal.say, venues="sim",
                         persist=True, fresh=fresh)
    system.start()
    return system


def test_a_restart_keeps_users_settings_positions_and_the_venues(tmp_path: Path) -> None:
    terminal = Terminal()
    first = _start(tmp_path, terminal)
    try:
        ida = log_in(first, terminal, "ida@example.com")
        me = ida.get("/api/v1/auth/me").json()["user"]
        assert ida.post("/api/v1/settings", {"preset": "conservative", "leverage": "2",
                                             "max_position_usd": "3000"}).status_code == 200
        job = ida.wait_job(ida.post("/api/v1/positions/open", {"asset": "SOL", "protocol": "drift", "leverage": "2",
                                                                "size_usd": "1000"}).json()["job_id"], timeout=60)
        assert job["status"] == "succeeded", job
        balances = ida.get("/api/v1/balances").json()
    finally:
        first.stop()
    assert any("fresh start" in line for line in terminal.lines)

    second = _start(tmp_path, terminal)
    try:
        assert any("restored 1 users and 1 positions" in line for line in terminal.lines)
        ida = log_in(second, terminal, "ida@example.com")
        again = ida.get("/api/v1/auth/me").json()["user"]
        assert again["user_id"] == me["user_id"] and again["wallets"] == me["wallets"]
        assert ida.get("/api/v1/settings").json()["preset"] == "conservative"
        assert ida.get("/api/v1/balances").json()["solana"]["usdc"] == balances["solana"]["usdc"]
        live = ida.get("/api/v1/positions?view=active").json()["positions"]
        assert [p["position_id"] for p in live] == [job["position_id"]]
        assert live[0]["health_factor"] is not None and Decimal(live[0]["health_factor"]) > 1  # Asgard kept it
        assert live[0]["margin_ratio"] is not None  # and Hyperliquid its short
        closing = ida.wait_job(ida.post(f"/api/v1/positions/{job['position_id']}/close").json()["job_id"],
                               timeout=60)
        assert closing["status"] == "succeeded", closing  # signed with the kept keys, at the kept venues
    finally:
        second.stop()

    third = _start(tmp_path, terminal, fresh=True)
    try:
        ida = log_in(third, terminal, "ida@example.com")
        assert ida.get("/api/v1/auth/me").json()["user"]["user_id"] != me["user_id"]
        assert ida.get("/api/v1/positions").json()["positions"] == []
    finally:
        third.stop()
