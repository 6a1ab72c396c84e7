"""Issue 8's invariant through the running product: the real `dnbot local` (in-process moto AWS, the local Step
Functions, the production adapters against the in-process simulator), driven ONLY over HTTP the way an operator or a
demo would: log in with the code the local identity provider prints, open and close through `/api/v1/positions`
(with `Idempotency-Key` headers), inject faults with the simulator's `POST /sim/faults`, move the Hyperliquid oracle
or trade outside the bot with the simulator's controls, flip the kill switch in SSM at the printed AWS endpoint
(boto3 with `endpoint_url`), run one reconciler cycle with `POST /local/schedules/reconciler/run`, then compare the
ledger (`GET /api/v1/positions`) with venue truth (tests/faults/invariant.py).

One system for the module; every scenario uses its own user, so each user's invariant is its own scenario's.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, cast

import boto3
import httpx
import pytest

from dnbot import resources
from dnbot.adapters.hyperliquid.positions import position_key
from dnbot.domain.positions import Leg, Position, PositionStatus
from tests.faults.invariant import (
    InvariantReport,
    ShortFillRow,
    VenueTruth,
    check_invariant,
    record_figure,
    venue_truth,
)
from tests.integration.helpers import Terminal, embedded_system

pytestmark = pytest.mark.xdist_group("moto")

AWS_RE = re.compile(r"AWS endpoint \(in-process moto\) at (http://\S+)")
SIM_RE = re.compile(r"venue simulator at (http://\S+)")
RECONCILER_RE = re.compile(r"POST (http://\S+/local/schedules/reconciler/run)")
JOB_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Wallets:
    evm_address: str | None
    solana_address: str | None


@dataclass(frozen=True)
class LedgerRow:
    """A position as `GET /api/v1/positions` shows it, in the shape tests/faults/invariant.py reads."""

    position_id: str
    status: PositionStatus
    long_leg: Leg | None
    short_leg: Leg | None
    drift: str | None


@dataclass
class Product:
    """The running `dnbot local`, known only by what it printed."""

    url: str
    sim: str
    aws: str
    reconciler: str
    terminal: Terminal

    def fault(self, **fault: Any) -> None:
        reply = httpx.post(f"{self.sim}/sim/faults", json=fault, timeout=10)
        assert reply.status_code == 201, reply.text

    def clear_faults(self) -> None:
        assert httpx.delete(f"{self.sim}/sim/faults", timeout=10).status_code == 204

    def reconcile(self) -> dict[str, Any]:
        """One reconciler cycle, now."""
        return self.run_schedule("reconciler")

    def run_schedule(self, name: str) -> dict[str, Any]:
        reply = httpx.post(self.reconciler.replace("/reconciler/", f"/{name}/"), headers={"X-Dnbot-Local": "1"},
                           timeout=120)
        assert reply.status_code == 200, reply.text
        return cast(dict[str, Any], reply.json()["result"])

    def advance_hours(self, hours: int) -> None:
        """The simulated clock moves on; the rates poller runs as its schedule would have, so rates stay fresh."""
        httpx.post(f"{self.sim}/sim/clock", json={"advance_hours": hours}, timeout=10).raise_for_status()
        self.run_schedule("rates_poller")

    def market(self, sol_price_factor: Decimal) -> None:
        reply = httpx.post(f"{self.sim}/sim/market", json={"sol_price_factor": str(sol_price_factor)}, timeout=10)
        assert reply.status_code == 200, reply.text

    def kill_switch(self, value: str) -> None:
        ssm = boto3.client("ssm", endpoint_url=self.aws, region_name="us-east-1", aws_access_key_id="local",
                           aws_secret_access_key="local")
        ssm.put_parameter(Name=resources.KILL_SWITCH_PARAMETER, Value=value, Type="String", Overwrite=True)

    def alerts_for(self, about: str) -> list[str]:
        """The operator's alerts about a position or a user (by id), as `dnbot local` printed them."""
        return [line for line in list(self.terminal.lines)
                if "ALERT" in line and (f"position={about}" in line or f"user={about}" in line)]

    def log_in(self, email: str) -> Trader:
        http = httpx.Client(base_url=self.url, timeout=30)
        assert http.post("/api/v1/auth/email/start", json={"email": email}).status_code == 202
        reply = http.post("/api/v1/auth/email/verify", json={"email": email, "code": self.terminal.login_code(email)})
        assert reply.status_code == 200, reply.text
        trader = Trader(http, reply.json()["csrf_token"], self, email)
        me = trader.get("/api/v1/auth/me").json()["user"]
        trader.user_id = me["user_id"]
        trader.wallets = Wallets(me["wallets"]["evm"], me["wallets"]["solana"])
        return trader


@dataclass
class Trader:
    http: httpx.Client
    csrf: str
    product: Product
    email: str
    wallets: Wallets = Wallets(None, None)
    user_id: str = ""

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def post(self, path: str, body: dict[str, Any] | None = None, key: str | None = None) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf, "Idempotency-Key": key or uuid.uuid4().hex}
        return self.http.post(path, json=body or {}, headers=headers)

    def open(self, asset: str, leverage: str, size_usd: str, protocol: str | None = "drift",
             key: str | None = None) -> httpx.Response:
        body: dict[str, Any] = {"asset": asset, "leverage": leverage, "size_usd": size_usd}
        if protocol is not None:
            body["protocol"] = protocol
        return self.post("/api/v1/positions/open", body, key)

    def close(self, position_id: str) -> httpx.Response:
        return self.post(f"/api/v1/positions/{position_id}/close")

    def wait_job(self, job_id: str, timeout: float = JOB_TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = cast(dict[str, Any], self.get(f"/api/v1/positions/jobs/{job_id}").json())
            if job["status"] != "running":
                return job
            assert time.monotonic() < deadline, f"job {job_id} still running after {timeout} s: {job}"
            time.sleep(0.1)

    def wait_stage(self, job_id: str, stage: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(f"/api/v1/positions/jobs/{job_id}").json()
            if any(s["name"] == stage for s in job.get("stages", [])):
                return
            assert job["status"] == "running", job
            assert time.monotonic() < deadline, f"job {job_id} never reached {stage}: {job}"
            time.sleep(0.05)

    def opened(self, asset: str, leverage: str, size_usd: str, protocol: str | None = "drift") -> str:
        reply = self.open(asset, leverage, size_usd, protocol)
        assert reply.status_code == 202, reply.text
        job = self.wait_job(reply.json()["job_id"])
        assert job["status"] == "succeeded", job
        return str(job["position_id"])

    def ledger(self) -> list[LedgerRow]:
        page = self.get("/api/v1/positions?view=all&limit=200").json()
        return [LedgerRow(p["position_id"], PositionStatus(p["status"]), _leg("asgard", p["long"]),
                          _leg("hyperliquid", p["short"]), p.get("drift")) for p in page["positions"]]

    def truth(self) -> VenueTruth:
        return venue_truth(self.product.sim, self.wallets)

    def check(self) -> InvariantReport:
        ledger = self.ledger()
        truth = _flattened_by_the_venue(self.truth(), [row.position_id for row in ledger])
        return check_invariant(truth, cast(list[Position], ledger))


def _leg(venue: str, view: dict[str, Any] | None) -> Leg | None:
    if view is None:
        return None
    return Leg(venue, Decimal(view["size"]), Decimal(view["entry_price"]), Decimal(view["notional_usd"]),
               Decimal(view["fees_usd"]), view.get("reference") or "")


def _flattened_by_the_venue(truth: VenueTruth, position_ids: list[str]) -> VenueTruth:
    """Attribute the account-level fills to positions. A fill that names none of the ledger's positions (a
    liquidation or a trade on the venue's own site: no cloid; a reconciler repair: a cloid naming no position) and
    leaves the account flat took every position's short with it; a later such SELL (the reconciler restoring the
    hedge) gives those shorts back. invariant.py sums each position's own fills only, so without this it would
    still see shorts a liquidation took. Each attributed part gets its own synthetic oid and cloid (the
    duplicate-order count stays untouched)."""
    keys = {position_key(position_id) for position_id in position_ids}
    fills: list[ShortFillRow] = []
    own: dict[str, Decimal] = {}
    taken: dict[str, Decimal] = {}
    account = Decimal(0)

    def attributed(fill: ShortFillRow, key: str, size: Decimal) -> ShortFillRow:
        return replace(fill, position_key=key, action=None, signed_size=size, oid=-(len(fills) + 1),
                       cloid=f"venue:{fill.oid}:{key}")

    for fill in truth.fills:
        account += fill.signed_size
        if fill.position_key in keys:
            own[fill.position_key] = own.get(fill.position_key, Decimal(0)) + fill.signed_size
            fills.append(fill)
        elif account == 0 and fill.signed_size < 0:  # the venue (or the user) flattened the account
            for key, short in own.items():
                if short > 0:
                    fills.append(attributed(fill, key, -short))
                    taken[key] = taken.get(key, Decimal(0)) + short
                    own[key] = Decimal(0)
        elif fill.signed_size > 0 and any(taken.values()):  # a hedge restored at account level
            left = fill.signed_size
            for key, short in taken.items():
                part = min(short, left)
                if part > 0:
                    fills.append(attributed(fill, key, part))
                    taken[key] -= part
                    own[key] += part
                    left -= part
            if left > 0:
                fills.append(replace(fill, signed_size=left))
        else:
            fills.append(fill)
    return replace(truth, fills=fills)


def _assert_holds(report: InvariantReport) -> InvariantReport:
    assert report.holds, "the invariant does not hold:\n- " + "\n- ".join(report.problems or [report.figure()])
    return report


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    terminal = Terminal()
    with embedded_system(tmp_path_factory.mktemp("state"), terminal, "sim") as local:
        printed = "\n".join(terminal.lines)

        def found(pattern: re.Pattern[str]) -> str:
            match = pattern.search(printed)
            assert match, f"dnbot local did not print {pattern.pattern!r}:\n{printed}"
            return match.group(1)

        yield Product(local.url, found(SIM_RE), found(AWS_RE), found(RECONCILER_RE), terminal)


def _user(product: Product, name: str) -> Trader:
    return product.log_in(f"{name}-{uuid.uuid4().hex[:6]}@example.com")


def _reconciled(product: Product, trader: Trader) -> InvariantReport:
    """One reconciler cycle, then the invariant for the trader's ledger against venue truth (it must hold)."""
    product.reconcile()
    return _assert_holds(trader.check())


def _reconciled_to(product: Product, trader: Trader, live_positions: int, scenario: str) -> InvariantReport:
    """One reconciler cycle; the invariant holds with `live_positions` left open; the scenario's figure recorded."""
    report = _reconciled(product, trader)
    assert report.live_positions == live_positions
    record_figure(scenario, report)
    return report


def _stages(job: dict[str, Any]) -> list[str]:
    return [stage["name"] for stage in job["stages"]]


def _at_rest(trader: Trader) -> InvariantReport:
    """The invariant as the workflow alone left it, before any reconciler cycle could repair anything."""
    return _assert_holds(trader.check())


def _open_under_fault(product: Product, trader: Trader, asset: str, leverage: str, size_usd: str,
                      **fault: Any) -> dict[str, Any]:
    """Opens with one fault armed at the simulator (cleared afterwards, whatever happens); the open's finished job."""
    product.fault(**fault)
    try:
        return trader.wait_job(trader.open(asset, leverage, size_usd).json()["job_id"])
    finally:
        product.clear_faults()


# --- scenarios ------------------------------------------------------------------------------------------------------


def test_asgard_down_during_a_close_keeps_the_hedge(product: Product) -> None:
    trader = _user(product, "asgard5xx")
    position = trader.opened("SOL", "3", "1200")
    product.fault(venue="asgard", call="*", kind="5xx", times=500)
    try:
        job = trader.wait_job(trader.close(position).json()["job_id"])
        assert job["status"] == "failed" and "close_short" not in _stages(job), job  # the long goes first
        failure = trader.get(f"/api/v1/positions/{position}").json()["failure"]
        assert failure.startswith("close incomplete: the Asgard long could not be closed; both legs are still open "
                                  "and hedged: "), failure
        # while Asgard stays down: the long and its short both rest, hedged, exactly as the ledger says
        during = _at_rest(trader)
        assert during.live_positions == 1
        assert next(r for r in trader.ledger() if r.position_id == position).status is PositionStatus.NEEDS_ATTENTION
        truth = trader.truth()
        assert truth.active_longs, "the long cannot have closed while Asgard answers 5xx"
        assert truth.short_of(position) > 0 and -truth.account_szi == truth.short_of(position), job
    finally:
        product.clear_faults()
    assert _at_rest(trader).live_positions == 1  # the fault cleared, nothing moved: still hedged, as recorded
    assert product.alerts_for(position), "the operator is alerted while the position cannot close"
    product.reconcile()
    record_figure("product: Asgard 5xx during a close, then cleared", _assert_holds(trader.check()))
    row = next(r for r in trader.ledger() if r.position_id == position)
    if row.status is not PositionStatus.CLOSED:  # still hedged, flagged: the trader (or operator) closes it again
        closing = trader.wait_job(trader.close(position).json()["job_id"])
        assert closing["status"] == "succeeded", closing
    assert _assert_holds(trader.check()).live_positions == 0


def test_duplicate_and_racing_opens_make_no_extra_exposure(product: Product) -> None:
    trader = _user(product, "dup")
    key = uuid.uuid4().hex
    first = trader.open("SOL", "2", "600", key=key)
    again = trader.open("SOL", "2", "600", key=key)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()  # the same key and body: the first answer, nothing new started
    assert trader.wait_job(first.json()["job_id"])["status"] == "succeeded"

    replies: list[httpx.Response] = []

    def racer() -> None:
        replies.append(trader.open("SOL", "2", "600"))  # its own fresh key

    threads = [threading.Thread(target=racer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    started = [r.json() for r in replies if r.status_code == 202]
    refused = [r for r in replies if r.status_code != 202]
    # one open in flight per account (a conditional write): the loser is told so, it starts nothing
    assert all(r.status_code == 409 and r.json()["error"]["code"] == "open_in_flight" for r in refused), refused
    assert 1 <= len(started) <= 2 and len({s["position_id"] for s in started}) == len(started)
    jobs = [trader.wait_job(s["job_id"]) for s in started]
    succeeded = sum(1 for job in jobs if job["status"] == "succeeded")

    live = [row for row in trader.ledger() if row.status.is_live]
    assert len(live) == 1 + succeeded  # one position per accepted request, none beyond what was asked
    truth = trader.truth()
    assert len(truth.active_longs) == len(live)
    product.reconcile()
    record_figure("product: one key twice, two keys racing", _assert_holds(trader.check()))
    for row in live:
        assert trader.wait_job(trader.close(row.position_id).json()["job_id"])["status"] == "succeeded"
    _assert_holds(trader.check())


def test_a_lost_hyperliquid_order_answer_on_open(product: Product) -> None:
    trader = _user(product, "lost")
    job = _open_under_fault(product, trader, "SOL", "3", "900",
                            venue="hyperliquid", call="order", kind="lose_response", times=1)
    assert job["status"] == "succeeded", job  # the order that was sent and unheard is found by its cloid, not re-sent
    assert _at_rest(trader).live_positions == 1
    report = _reconciled(product, trader)
    assert report.duplicate_orders == 0 and report.live_positions == 1
    record_figure("product: Hyperliquid order answer lost on open", report)
    # then the Asgard close's answer is lost: the close landed, found by its signature; the close succeeds
    product.fault(venue="asgard", call="submit-close-position-tx", kind="lose_response", times=1)
    try:
        closing = trader.wait_job(trader.close(job["position_id"]).json()["job_id"])
    finally:
        product.clear_faults()
    assert closing["status"] == "succeeded", closing
    report = _at_rest(trader)
    assert report.live_positions == 0 and trader.truth().active_longs == []
    record_figure("product: Asgard close answer lost", report)


def test_privy_signing_down_before_the_first_leg(product: Product) -> None:
    trader = _user(product, "privy")
    product.fault(venue="privy", call="signTransaction", kind="5xx", times=200)
    try:
        job = trader.wait_job(trader.open("SOL", "2", "800").json()["job_id"])
        assert job["status"] == "failed", job
        truth = trader.truth()
        assert truth.longs == [] and truth.account_szi == 0  # nothing landed anywhere
    finally:
        product.clear_faults()
    (row,) = trader.ledger()
    assert row.long_leg is None and row.short_leg is None
    assert _at_rest(trader).unhedged_window_seconds == 0
    _reconciled_to(product, trader, 0, "product: Privy signing down before the first leg")


def test_a_short_closed_outside_the_bot_is_repaired(product: Product) -> None:
    trader = _user(product, "outside")
    position = trader.opened("SOL", "3", "1200")
    reply = httpx.post(f"{product.sim}/sim/hyperliquid/accounts/{trader.wallets.evm_address}/reduce", json={},
                       timeout=10)
    assert reply.status_code == 200, reply.text
    assert trader.truth().account_szi == 0  # the long is naked now, at the venue

    report = _reconciled(product, trader)
    row = next(r for r in trader.ledger() if r.position_id == position)
    assert row.drift, "the reconciler records what it found"
    assert product.alerts_for(trader.user_id), "and alerts the operator (the account's drift)"
    record_figure("product: short closed outside the bot, one reconciler cycle", report)


def test_a_hyperliquid_liquidation_is_repaired(product: Product) -> None:
    trader = _user(product, "liquidated")
    position = trader.opened("SOL", "3", "1200")
    state = httpx.get(f"{product.sim}/sim/hyperliquid/accounts/{trader.wallets.evm_address}", timeout=10).json()
    liquidation_px = Decimal(state["assetPositions"][0]["position"]["liquidationPx"])
    price = Decimal(httpx.get(f"{product.sim}/sim/clock", timeout=10).json()["sol_price"])
    # a rally at every venue, 2 % past the short's liquidation price: Hyperliquid liquidates the account's short
    product.market(sol_price_factor=(liquidation_px / price * Decimal("1.02")).quantize(Decimal("0.001")))
    try:
        assert trader.truth().account_szi == 0  # liquidated by the venue (the long is healthier than ever)
    finally:
        product.market(sol_price_factor=Decimal(1))
    report = _reconciled(product, trader)
    row = next(r for r in trader.ledger() if r.position_id == position)
    assert row.drift, "the reconciler records the liquidation"
    assert product.alerts_for(position), "and alerts the operator"
    record_figure("product: Hyperliquid liquidation, one reconciler cycle", report)


def test_a_short_refused_after_the_long_unwinds_it(product: Product) -> None:
    trader = _user(product, "refused")
    job = _open_under_fault(product, trader, "SOL", "2", "800",
                            venue="hyperliquid", call="order", kind="reject", times=10,
                            message="Insufficient margin to place order.")
    assert job["status"] == "failed" and "Insufficient margin" in job["error"], job
    assert "unwind" in _stages(job), job
    (row,) = trader.ledger()
    assert row.status is PositionStatus.FAILED and row.long_leg is not None
    at_rest = _at_rest(trader)
    assert 0 < at_rest.unhedged_window_seconds < 60  # the long's whole (short) life: it was unwound at once
    report = _reconciled(product, trader)
    longs = trader.truth().longs
    assert report.live_positions == 0 and len(longs) == 1 and not longs[0].active  # the long landed, then closed
    record_figure("product: short refused after the long", report)


def test_a_lost_asgard_submit_answer_is_resolved(product: Product) -> None:
    trader = _user(product, "asgardlost")
    # the long lands on chain, the answer never comes back: the open must find it, not send a second one
    job = _open_under_fault(product, trader, "SOL", "3", "900",
                            venue="asgard", call="submit-create-position-tx", kind="lose_response", times=1)
    assert job["status"] == "succeeded", job  # the landed long was found (signature, PDA), not sent again
    assert _at_rest(trader).live_positions == 1
    report = _reconciled(product, trader)
    assert report.duplicate_orders == 0 and len(trader.truth().longs) == 1, job
    record_figure("product: Asgard submit answer lost on open", report)
    closing = trader.wait_job(trader.close(job["position_id"]).json()["job_id"])
    assert closing["status"] == "succeeded", closing
    assert _at_rest(trader).live_positions == 0


def test_a_partial_fill_at_hyperliquid_is_topped_up(product: Product) -> None:
    trader = _user(product, "partial")
    job = _open_under_fault(product, trader, "SOL", "2", "1000",
                            venue="hyperliquid", call="order", kind="partial_fill", fill_fraction="0.5", times=1)
    assert job["status"] == "succeeded", job
    assert "rebalance_short" in _stages(job), job  # topped up by one IOC, not unwound
    assert _at_rest(trader).live_positions == 1
    _reconciled_to(product, trader, 1, "product: partial fill at Hyperliquid on open")
    closing = trader.wait_job(trader.close(job["position_id"]).json()["job_id"])
    assert closing["status"] == "succeeded", closing  # the close buys back exactly the topped-up short
    assert _at_rest(trader).live_positions == 0 and trader.truth().account_szi == 0


def test_a_lost_hyperliquid_answer_on_close(product: Product) -> None:
    trader = _user(product, "closelost")
    position = trader.opened("SOL", "3", "900")
    # the reduce-only buy-back fills, its answer is lost: the close must find it by its cloid, not buy twice
    product.fault(venue="hyperliquid", call="order", kind="lose_response", times=1)
    try:
        job = trader.wait_job(trader.close(position).json()["job_id"])
    finally:
        product.clear_faults()
    report = _reconciled(product, trader)
    assert job["status"] == "succeeded" and report.live_positions == 0, (job["error"], job["stages"])
    assert trader.truth().account_szi == 0  # bought back once: no long opened by a second buy
    record_figure("product: Hyperliquid answer lost on close", report)


def test_close_all_mid_open_unwinds(product: Product) -> None:
    trader = _user(product, "killed")
    # the Asgard submit answers 3 s late: the open is inside its first leg when the operator flips the switch
    product.fault(venue="asgard", call="submit-create-position-tx", kind="delay", delay_seconds=3, times=1)
    try:
        reply = trader.open("SOL", "2", "800")
        assert reply.status_code == 202, reply.text
        trader.wait_stage(reply.json()["job_id"], "open_long")  # inside the first leg (its submit is delayed)
        product.kill_switch("close-all")
        job = trader.wait_job(reply.json()["job_id"])
    finally:
        product.kill_switch("off")
        product.clear_faults()
    # the API sees the operator's flips within 10 s (both ways): the next scenario may open again
    deadline = time.monotonic() + 12
    while trader.get("/api/v1/status").json()["kill_switch"] != "off":
        assert time.monotonic() < deadline, "the API still reads the kill switch as close-all after 12 s"
        time.sleep(0.5)
    assert job["status"] == "failed", job
    stages = [stage["name"] for stage in job["stages"]]
    assert "open_long" in stages and stages[-1] == "unwind", stages  # the long had landed: it was unwound
    report = _reconciled(product, trader)
    longs = trader.truth().longs
    assert report.live_positions == 0 and len(longs) == 1 and not longs[0].active
    record_figure("product: close-all via the SSM kill switch mid-open", report)


def test_funding_of_two_positions_sums_to_what_the_venue_paid(product: Product) -> None:
    trader = _user(product, "funding")
    first = trader.opened("SOL", "3", "1200")
    second = trader.opened("SOL", "2", "600")
    product.advance_hours(3)
    trader = product.log_in(trader.email)  # three idle hours end the session
    assert trader.wait_job(trader.close(first).json()["job_id"])["status"] == "succeeded"
    product.advance_hours(2)
    trader = product.log_in(trader.email)
    assert trader.wait_job(trader.close(second).json()["job_id"])["status"] == "succeeded"

    paid = httpx.post(f"{product.sim}/hyperliquid/info", timeout=10, json={
        "type": "userFunding", "user": trader.wallets.evm_address, "startTime": 0}).json()
    venue_total = sum((Decimal(p["delta"]["usdc"]) for p in paid), Decimal(0))
    views = [trader.get(f"/api/v1/positions/{pid}").json() for pid in (first, second)]
    shares = [Decimal(view["pnl"]["funding_usd"]) for view in views]
    sizes = [Decimal(view["short"]["size"]) for view in views]
    assert len(paid) >= 5 and venue_total != 0
    # each hourly payment split by each position's size in that hour (the account's szi tells which were open)
    expected = [Decimal(0), Decimal(0)]
    for payment in paid:
        held = -Decimal(payment["delta"]["szi"])
        owners = [0, 1] if held == sum(sizes) else [1]
        assert held == sum(sizes[i] for i in owners), payment
        for i in owners:
            expected[i] += Decimal(payment["delta"]["usdc"]) * sizes[i] / held
    for share, want in zip(shares, expected, strict=True):
        assert abs(share - want) <= Decimal("0.01"), (shares, expected)
    assert abs(sum(shares) - venue_total) <= Decimal("0.02"), (shares, venue_total)  # in cents, each rounded
    record_figure("product: funding of two positions (5 h, closed 2 h apart)", _assert_holds(trader.check()))


def test_privy_signing_down_after_the_first_leg(product: Product) -> None:
    trader = _user(product, "privyafter")  # a new user: the first short needs the agent approved by its Privy wallet
    job = _open_under_fault(product, trader, "SOL", "2", "800",
                            venue="privy", call="eth_signTypedData_v4", kind="5xx", times=200)
    assert job["status"] == "failed", job
    (row,) = trader.ledger()
    assert row.long_leg is not None and row.short_leg is None  # the long landed; the short was never placed
    _at_rest(trader)
    report = _reconciled(product, trader)
    longs = trader.truth().longs
    assert report.live_positions == 0 and len(longs) == 1 and not longs[0].active  # landed, then unwound
    record_figure("product: Privy signing down after the first leg", report)


def test_an_asgard_liquidation_is_repaired(product: Product) -> None:
    trader = _user(product, "asgardliq")
    position = trader.opened("SOL", "3", "1200")
    product.market(sol_price_factor=Decimal("0.6"))  # a crash: the 3x long is past its liquidation threshold
    try:
        mine = [r for r in httpx.get(f"{product.sim}/sim/asgard/positions", timeout=10).json()
                if r.get("ownerAddress") == trader.wallets.solana_address]
        assert len(mine) == 1 and mine[0]["liquidationEvents"], mine  # Asgard liquidated it
        assert trader.truth().account_szi < 0  # the short is still on: unhedged now
    finally:
        product.market(sol_price_factor=Decimal(1))
    report = _reconciled(product, trader)
    row = next(r for r in trader.ledger() if r.position_id == position)
    assert report.live_positions == 0 and row.drift, row
    assert product.alerts_for(position), "the operator is alerted"
    record_figure("product: Asgard liquidation, one reconciler cycle", report)


def test_an_unanswered_asgard_submit_waits_for_its_blockhash(product: Product) -> None:
    trader = _user(product, "unanswered")
    # the signed open is sent and Asgard answers 5xx: it may still land until its blockhash expires
    product.fault(venue="asgard", call="submit-create-position-tx", kind="5xx", times=50)
    try:
        reply = trader.open("SOL", "2", "800")
        job_id = reply.json()["job_id"]
        trader.wait_stage(job_id, "unwind", timeout=60)  # the open gave up on the long; the unwind waits on it
        time.sleep(2.0)
        waiting = trader.get(f"/api/v1/positions/jobs/{job_id}").json()
        assert waiting["status"] == "running", waiting  # never failed while the long may still land
        (row,) = trader.ledger()
        assert row.status is PositionStatus.PENDING  # not failed: the long may still land
        httpx.post(f"{product.sim}/sim/clock", json={"advance_seconds": 120}, timeout=10).raise_for_status()
        job = trader.wait_job(job_id)
    finally:
        product.clear_faults()
    assert job["status"] == "failed", job
    (row,) = trader.ledger()
    assert row.status is PositionStatus.FAILED
    _at_rest(trader)
    report = _reconciled(product, trader)
    assert report.live_positions == 0 and trader.truth().longs == []
    record_figure("product: Asgard submit unanswered (5xx), blockhash expired", report)


def test_the_schedule_control_is_refused_without_its_header(product: Product) -> None:
    assert httpx.post(product.reconciler, timeout=10).status_code == 403  # a cross-site form cannot send it
    other = product.reconciler.replace("/reconciler/", "/position_steps/")
    assert httpx.post(other, headers={"X-Dnbot-Local": "1"}, timeout=10).status_code == 404  # not a schedule
