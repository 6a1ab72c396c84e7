"""The simulator's server: venues mounted on one port, the clock and fault controls, the `dnbot sim` CLI."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from dnbot.sim.server import RunningSim


def test_every_built_venue_is_mounted_under_its_prefix(sim: RunningSim) -> None:
    index = httpx.get(f"{sim.base_url}/sim").json()
    assert {"asgard", "solana", "arbitrum", "privy"} <= set(index["venues"])
    assert sim.url("solana") == f"{sim.base_url}/solana"
    reply = httpx.post(sim.url("solana"), json={"jsonrpc": "2.0", "id": 1, "method": "getLatestBlockhash"})
    assert reply.json()["result"]["value"]["blockhash"]


def test_the_clock_moves_forward_only_and_the_market_follows(sim: RunningSim) -> None:
    before = httpx.get(f"{sim.base_url}/sim/clock").json()
    after = httpx.post(f"{sim.base_url}/sim/clock", json={"advance_hours": 3}).json()
    assert after["now_ms"] - before["now_ms"] >= 3 * 3600 * 1000
    assert after["recorded_hour"] != before["recorded_hour"]
    refused = httpx.post(f"{sim.base_url}/sim/clock", json={"advance_seconds": -5})
    assert refused.status_code == 422
    both = httpx.post(f"{sim.base_url}/sim/clock", json={"advance_seconds": 1, "advance_hours": 1})
    assert both.status_code == 422


def test_an_injected_fault_hits_its_call_once(sim: RunningSim) -> None:
    created = httpx.post(f"{sim.base_url}/sim/faults",
                         json={"venue": "solana", "call": "getBalance", "kind": "5xx", "times": 1})
    assert created.status_code == 201
    assert httpx.get(f"{sim.base_url}/sim/faults").json()["faults"][0]["call"] == "getBalance"
    body = {"jsonrpc": "2.0", "id": 1, "method": "getBalance",
            "params": ["11111111111111111111111111111111"]}
    assert httpx.post(sim.url("solana"), json=body).status_code >= 500
    assert httpx.post(sim.url("solana"), json=body).status_code == 200
    assert httpx.get(f"{sim.base_url}/sim/faults").json()["faults"] == []


def test_a_malformed_fault_is_a_422(sim: RunningSim) -> None:
    reply = httpx.post(f"{sim.base_url}/sim/faults", json={"venue": "nasdaq", "call": "x", "kind": "5xx"})
    assert reply.status_code == 422


@pytest.mark.parametrize("args", [["--speed", "0"], ["--port", "70000"], ["--data", "/nonexistent"], ["--bogus"]])
def test_bad_cli_input_exits_2_with_one_line(args: list[str]) -> None:
    result = subprocess.run([sys.executable, "-c", "from dnbot.cli import main; raise SystemExit(main())", "sim",
                             *args], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
