"""More of issue 8's scenarios through the running product (the same setup as tests/faults/test_product_faults.py,
whose fixture and helpers this module reuses): the real `dnbot local`, driven ONLY over HTTP. Rates go stale (the
rates sources answer 5xx, the simulated clock moves past the staleness limit), one venue's SOL price diverges
(`POST /sim/asgard/price`), an LST depegs (`POST /sim/asgard/lst-rate`), a venue acts and its answer is lost
(the Lambda never hears it: the ledger write that should follow never happens on that attempt), a WebSocket
client vanishes, and four closes race the tick and the reconciler on one position. The tick and the reconciler
run with `POST /local/schedules/<name>/run`; after each, the ledger is compared with venue truth
(tests/faults/invariant.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from dnbot.adapters.hyperliquid.positions import ACTION_CLOSE, ACTION_OPEN, position_key
from dnbot.api.deps import SESSION_COOKIE
from dnbot.domain.positions import PositionStatus
from tests.faults.invariant import record_figure
from tests.faults.test_product_faults import LedgerRow, Product, Trader, _reconciled, _reconciled_to, _user
from tests.faults.test_product_faults import product as started_product  # noqa: F401  (a fixture: one dnbot local)

pytestmark = pytest.mark.xdist_group("moto")


@pytest.fixture(scope="module")
def product(started_product: Product) -> Product:  # noqa: F811  (the started system, under the usual name)
    return started_product

STALE_AFTER_S = 300  # settings.rates_stale_after_seconds (the open's Preflight) and the presets' max data age


def _sim(product: Product, path: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = httpx.post(f"{product.sim}{path}", json=body, timeout=10)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def _bot(trader: Trader, action: str) -> None:
    reply = trader.post(f"/api/v1/control/{action}")
    assert reply.status_code == 200, reply.text
    assert reply.json()["bot_status"] == ("running" if action == "start" else "standby"), reply.text


def _row(trader: Trader, position_id: str) -> dict[str, Any]:
    return dict(trader.get(f"/api/v1/positions/{position_id}").json())


def _wait_status(trader: Trader, position_id: str, status: PositionStatus, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        row = _row(trader, position_id)
        if row["status"] == status.value:
            return row
        assert time.monotonic() < deadline, f"position {position_id} is {row['status']}, not {status.value}: {row}"
        time.sleep(0.1)


def _refused_at_preflight(trader: Trader, asset: str, protocol: str | None, why: str) -> None:
    """An open through the API is accepted, then refused by Preflight: no leg at either venue."""
    before = trader.truth()
    reply = trader.open(asset, "2", "600", protocol=protocol)
    assert reply.status_code == 202, reply.text
    job = trader.wait_job(reply.json()["job_id"])
    assert job["status"] == "failed" and why in job["error"], job
    assert {stage["name"] for stage in job["stages"]} == {"queued", "preflight"}, job["stages"]  # no leg step
    after = trader.truth()
    assert len(after.longs) == len(before.longs) and after.account_szi == before.account_szi
    assert after.short_of(job["position_id"]) == 0 and len(after.fills) == len(before.fills)


@contextmanager
def _faults(product: Product, *faults: dict[str, Any]) -> Iterator[None]:
    for fault in faults:
        product.fault(**fault)
    try:
        yield
    finally:
        product.clear_faults()


@contextmanager
def _bot_running(trader: Trader) -> Iterator[None]:
    """The tick acts for running users only; stopped again after, so later ticks leave this user alone."""
    _bot(trader, "start")
    try:
        yield
    finally:
        _bot(trader, "stop")


@contextmanager
def _moved(product: Product, path: str, body: dict[str, Any], back: dict[str, Any]) -> Iterator[dict[str, Any]]:
    moved = _sim(product, path, body)
    try:
        yield moved
    finally:
        _sim(product, path, back)
        product.run_schedule("rates_poller")  # the next scenario starts from fresh, agreeing rates


# --- stale rates ----------------------------------------------------------------------------------------------------


def test_stale_rates_refuse_opens_and_risk_exits_still_act(product: Product) -> None:
    trader = _user(product, "stale")
    position = trader.opened("SOL", "2", "800")
    # the rates sources answer 5xx (Asgard's markets, Hyperliquid's funding history), and time passes
    with _faults(product, {"venue": "asgard", "call": "markets", "kind": "5xx", "times": 1000},
                 {"venue": "hyperliquid", "call": "fundingHistory", "kind": "5xx", "times": 1000}):
        httpx.post(f"{product.sim}/sim/clock", json={"advance_seconds": STALE_AFTER_S + 60},
                   timeout=10).raise_for_status()
        poll = httpx.post(product.reconciler.replace("/reconciler/", "/rates_poller/"),
                          headers={"X-Dnbot-Local": "1"}, timeout=60)
        assert poll.status_code >= 500, poll.text  # the poller cannot refresh: the snapshot stays old
        trader = product.log_in(trader.email)
        _refused_at_preflight(trader, "SOL", "drift", "rates are")

        # the risk exits still act on stale rates: the venues disagree on SOL, the tick closes the position
        with _bot_running(trader):
            _sim(product, "/sim/asgard/price", {"factor": "0.97"})
            try:
                tick = product.run_schedule("strategy_tick")
                assert "funding_history" in tick.get("errors", {}), tick  # its history read failed; exits ran
                row = _wait_status(trader, position, PositionStatus.CLOSED)
            finally:
                _sim(product, "/sim/asgard/price", {"factor": "1"})
    product.run_schedule("rates_poller")  # the sources answer again: fresh rates for the next scenario
    assert "venues disagree on SOL" in (row["close_reason"] or ""), row
    _reconciled_to(product, trader, 0, "product: stale rates (open refused at preflight; a risk exit still closes)")


# --- venue price divergence, LST depeg -----------------------------------------------------------------------------


def test_venue_price_divergence_closes_and_refuses_opens(product: Product) -> None:
    trader = _user(product, "diverge")
    position = trader.opened("SOL", "2", "800")
    with _bot_running(trader), _moved(product, "/sim/asgard/price", {"factor": "0.97"}, {"factor": "1"}) as moved:
        assert Decimal(moved["sol_price"]) > 0
        product.run_schedule("strategy_tick")
        row = _wait_status(trader, position, PositionStatus.CLOSED)
        product.run_schedule("rates_poller")  # the snapshot now holds both venues' (disagreeing) prices
        _refused_at_preflight(trader, "SOL", "drift", "spread")
    assert "venues disagree on SOL" in (row["close_reason"] or ""), row
    _reconciled_to(product, trader, 0, "product: venue price divergence (Asgard SOL -3 %)")


def test_an_lst_depeg_closes_the_position(product: Product) -> None:
    trader = _user(product, "depeg")
    position = trader.opened("jitoSOL", "2", "800", protocol=None)
    with _bot_running(trader), _moved(product, "/sim/asgard/lst-rate", {"asset": "jitoSOL", "factor": "0.95"},
                                      {"asset": "jitoSOL", "factor": "1"}) as moved:
        assert Decimal(moved["market_rate"]) < Decimal(moved["redemption_rate"])
        product.run_schedule("strategy_tick")
        row = _wait_status(trader, position, PositionStatus.CLOSED)
    assert "below its SOL value" in (row["close_reason"] or ""), row
    _reconciled_to(product, trader, 0, "product: LST depeg (jitoSOL at 0.95 of its SOL value)")


# --- a venue acted, the ledger write never followed -------------------------------------------------------------------


@pytest.mark.parametrize(("venue", "call"), [("asgard", "submit-close-position-tx"), ("hyperliquid", "order")])
def test_a_venue_acts_and_the_step_dies_before_the_ledger_write(product: Product, venue: str, call: str) -> None:
    """The closest the product allows to a Lambda dying between a venue's answer and the ledger write: the venue
    ACTS, the step never hears it (`lose_response`) and fails that attempt without writing; its retry, or one
    reconciler cycle, must bring the ledger to the venues' truth with nothing done twice."""
    trader = _user(product, f"crash-{venue}")
    position = trader.opened("SOL", "2", "800")
    with _faults(product, {"venue": venue, "call": call, "kind": "lose_response", "times": 1}):
        job = trader.wait_job(trader.close(position).json()["job_id"])
    print(f"close with the {venue} {call} answer lost: job {job['status']} ({job.get('error')})")
    report = _reconciled(product, trader)
    truth = trader.truth()
    assert report.duplicate_orders == 0 and truth.account_szi == 0 and truth.active_longs == [], job
    assert _row(trader, position)["status"] == PositionStatus.CLOSED.value, job
    record_figure(f"product: {venue} {call} acted, answer lost (step died before its ledger write), on close",
                  report)


# --- WebSocket connection gone ----------------------------------------------------------------------------------------


def _live(product: Product, trader: Trader) -> ClientConnection:
    host = urlsplit(product.url).netloc
    cookie = trader.http.cookies.get(SESSION_COOKIE)
    assert cookie, "logged in"
    socket = connect(f"ws://{host}/live", additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
                     open_timeout=10)
    hello = socket.recv(timeout=10)
    assert '"hello"' in str(hello), hello
    return socket


def test_a_websocket_connection_gone_does_not_stop_the_product(product: Product) -> None:
    trader = _user(product, "ws")
    gone = _live(product, trader)
    kept = _live(product, trader)
    printed = len(product.terminal.lines)
    gone.socket.close()  # dropped: no close frame, the server finds out when it next writes or reads

    reply = trader.open("SOL", "2", "800")
    assert reply.status_code == 202, reply.text
    job_id = reply.json()["job_id"]
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while "succeeded" not in seen:  # the connected client gets the job's updates until it succeeds
        assert time.monotonic() < deadline, f"the connected client saw {seen} for job {job_id}"
        message = kept.recv(timeout=max(0.1, deadline - time.monotonic()))
        if job_id in str(message) and '"job"' in str(message):
            seen.extend(s for s in ("running", "succeeded", "failed") if f'"{s}"' in str(message))
    assert "failed" not in seen, seen
    kept.close()
    job = trader.wait_job(job_id)
    assert job["status"] == "succeeded", job
    later = product.terminal.lines[printed:]
    assert not [line for line in later if "Traceback" in line or "ERROR" in line], later
    _reconciled_to(product, trader, 1, "product: WebSocket client dropped, then an open")
    assert trader.wait_job(trader.close(job["position_id"]).json()["job_id"])["status"] == "succeeded"


# --- concurrent writers on one position -------------------------------------------------------------------------------


def _together(*work: Callable[[], Any]) -> list[Any]:
    """Runs every callable at once (released by one barrier); their results (or exceptions) in order."""
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except Exception as error:  # kept: asserted on below
            results[i] = error

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(work)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_concurrent_closes_tick_and_reconciler_on_one_position(product: Product) -> None:
    trader = _user(product, "writers")
    position = trader.opened("SOL", "2", "800")
    with _bot_running(trader):
        results = _together(*[lambda: trader.close(position) for _ in range(4)],
                            lambda: product.run_schedule("strategy_tick"), lambda: product.reconcile())
    closes: list[httpx.Response] = results[:4]
    assert not [r for r in results if isinstance(r, Exception)], results
    assert all(r.status_code in (202, 409) for r in closes), [(r.status_code, r.text) for r in closes]
    jobs = {r.json()["job_id"] for r in closes if r.status_code == 202}
    print(f"racing closes: {sorted(r.status_code for r in closes)}, {len(jobs)} job(s)")
    assert len(jobs) == 1, jobs  # the losers got the running close's job (or a 409)
    job = trader.wait_job(jobs.pop())
    assert job["status"] == "succeeded", job
    row: LedgerRow = next(r for r in trader.ledger() if r.position_id == position)
    assert row.status is PositionStatus.CLOSED

    truth = trader.truth()
    key = position_key(position)
    own = [fill for fill in truth.fills if fill.position_key == key]
    buybacks = {fill.oid for fill in own if fill.action is not None and fill.action >= ACTION_CLOSE
                and fill.action < ACTION_CLOSE + 0x10}
    assert len(buybacks) == 1, own  # one close execution: one buy-back
    assert len({fill.oid for fill in own if fill.action == ACTION_OPEN}) == 1
    illegal = [line for line in product.terminal.lines if "IllegalTransition" in line]
    assert illegal == [], illegal
    report = _reconciled(product, trader)
    assert report.live_positions == 0 and truth.active_longs == []
    record_figure("product: 4 closes racing the tick and the reconciler on one position", report)
