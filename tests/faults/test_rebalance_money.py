"""The money of a position rebalanced in place, against the venues' own truth, through the production adapters on
`dnbot sim` (the rebalance workflow as in test_rebalance_inplace.py, then the close through the API):
- the close's realized total is what the user's venue balances gained (Solana USDC + Hyperliquid account value):
  after a rally's partial close, the USDC Asgard paid to the wallet is its answer, after its close fee (the ledger
  used to count the equity before that fee);
- the unrealized PnL just before the close is what the venues hold for the user then (the Solana USDC and the
  Hyperliquid account value changed by it, Asgard holding the long's equity), so it holds what the rebalance
  realized on the part of both legs it sold (the short's buy-back and its fee, the long's sold part), never twice
  (the ledger used to lose the rebalance's fees and the price between its two halves until the close)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from dnbot.domain.positions import PositionStatus
from dnbot.domain.risk import Verdict, assess
from dnbot.local.system import LocalSystem
from tests.faults.helpers import fault
from tests.faults.test_rebalance_inplace import EXITS, Trader, _rally_until_rebalance, move
from tests.integration.helpers import Terminal

pytestmark = pytest.mark.xdist_group("moto")

D = Decimal
CENT = D("0.01")
# between the live figure and the venues read just after it: the replay's price moving between the reads; a
# rebalance's fees alone are dollars at these sizes
LIVE_TOLERANCE_USD = D("0.05")
_emails = iter(range(1000))


@pytest.fixture(autouse=True)
def _calm_market(system: LocalSystem) -> Iterator[None]:
    yield
    move(system, D(1))


@pytest.fixture
def trader(system: LocalSystem, terminal: Terminal) -> Trader:
    return Trader(system, terminal, f"rebalance-money{next(_emails)}@example.com")


def _venue_money(trader: Trader) -> Decimal:
    """The user's Solana USDC + Hyperliquid account value, as the simulated venues hold them."""
    user = trader.user()
    solana = httpx.get(f"{trader.sim}/sim/solana/balances/{user.solana_address}").json()
    state = httpx.post(f"{trader.sim}/hyperliquid/info",
                       json={"type": "clearinghouseState", "user": user.evm_address}).json()
    return D(solana["usdc"]) + D(state["marginSummary"]["accountValue"])


def _held(trader: Trader, position_id: str, before: Decimal) -> Decimal:
    """What the venues hold for the user now beyond `before`: the balances' change and Asgard's long equity."""
    readings = trader.readings(position_id)
    assert readings.long_value_usd is not None and readings.long_debt_usd is not None
    return _venue_money(trader) - before + readings.long_value_usd - readings.long_debt_usd


def _rebalance_then_close(trader: Trader, position_id: str,
                          before: Decimal) -> tuple[dict[str, str], dict[str, str], Decimal]:
    """Run the rebalance workflow, read the live PnL by source and what the venues hold then, close through the
    API: (live, realized, held)."""
    execution = trader.rebalance(position_id)
    assert execution.status == "SUCCEEDED" and execution.output["outcome"] == "rebalanced", execution
    assert trader.position(position_id).rebalances == 1
    live = trader.client.get(f"/api/v1/positions/{position_id}").json()
    held = _held(trader, position_id, before)
    assert live["pnl_kind"] == "unrealized", live
    job = trader.client.wait_job(trader.client.post(f"/api/v1/positions/{position_id}/close").json()["job_id"],
                                 timeout=90)
    assert job["status"] == "succeeded", job
    closed = trader.client.get(f"/api/v1/positions/{position_id}").json()
    assert closed["status"] == "closed" and closed["pnl_kind"] == "realized", closed
    return live["pnl"], closed["pnl"], held


def _check(trader: Trader, before: Decimal, live: dict[str, str], realized: dict[str, str], held: Decimal,
           what: str) -> None:
    gained = _venue_money(trader) - before
    total = D(realized["total_usd"])
    print(f"{what}: realized {total} vs venue balances {gained:.6f}; live PnL before the close {live['total_usd']} "
          f"vs what the venues held then {held:.6f}")
    assert abs(total - gained) <= 2 * CENT, (total, gained)
    assert abs(D(live["total_usd"]) - held) <= LIVE_TOLERANCE_USD, (live, held)


def test_a_rally_s_partial_close_realizes_what_the_venues_paid(system: LocalSystem, trader: Trader) -> None:
    before = _venue_money(trader)
    position = trader.open(leverage="3")
    _rally_until_rebalance(trader, position.position_id)
    live, realized, held = _rebalance_then_close(trader, position.position_id, before)
    assert position.long_leg is not None
    (record,) = [r for r in trader.asgard_records() if r["positionPda"] == position.long_leg.reference]
    assert record["updateCount"] == 1 and record["state"] == 1  # one partial close, then the close
    _check(trader, before, live, realized, held, "rally, partial close")


def test_a_crash_s_deleverage_keeps_its_cost_in_the_live_pnl(system: LocalSystem, trader: Trader) -> None:
    before = _venue_money(trader)
    position = trader.open(leverage="3")
    for factor in (D("0.9"), D("0.85"), D("0.8"), D("0.75"), D("0.7")):
        move(system, factor)
        if assess(trader.readings(position.position_id), EXITS).verdict is Verdict.REBALANCE:
            break
    assert trader.position(position.position_id).status is PositionStatus.OPEN
    live, realized, held = _rebalance_then_close(trader, position.position_id, before)
    _check(trader, before, live, realized, held, "crash, deleverage")


def test_a_rebalance_left_to_an_operator_keeps_what_its_buy_back_realized(system: LocalSystem,
                                                                           trader: Trader) -> None:
    """A rally's rebalance: the buy-back realized the short's loss, Asgard's update then fails (5xx) and the short
    cannot be sold back (Hyperliquid refuses: in `dnbot local` a rally's loss leaves too little margin for it):
    needs_attention, the ledger's short still at its size before. The reconciler then closes what is left; the
    realized total is still what the venue balances lost (the buy-back's loss used to be dropped: a +2379.19
    realized where the balances lost 27.37)."""
    before = _venue_money(trader)
    position = trader.open(leverage="3")
    _rally_until_rebalance(trader, position.position_id)
    fault(system, "asgard", "position/partial-close", "5xx", times=20)
    fault(system, "asgard", "position/deleverage", "5xx", times=20)
    name = trader.start_rebalance(position.position_id)
    deadline = time.monotonic() + 60
    while not trader.fills(position.position_id, "rebalance-1"):  # the buy-back traded; the long's half retries
        assert time.monotonic() < deadline, "no buy-back"
        time.sleep(0.05)
    fault(system, "hyperliquid", "order", "reject", times=10, message="Insufficient margin to place order.")
    execution = trader.wait_execution(name)
    httpx.delete(f"{trader.sim}/sim/faults")
    flagged = trader.position(position.position_id)
    assert flagged.status is PositionStatus.NEEDS_ATTENTION and "RestoreFailed" in (flagged.failure or ""), execution
    (bought,) = trader.fills(position.position_id, "rebalance-1")
    realized_by_buy_back = D(bought["closedPnl"]) - D(bought["fee"])
    assert flagged.rebalance_cash_usd == realized_by_buy_back.quantize(CENT) < 0  # a short bought back after a rally
    # the live figure meanwhile: the ledger's legs as before (the bought part still in its short), once
    live = trader.client.get(f"/api/v1/positions/{position.position_id}").json()["pnl"]
    held = _held(trader, position.position_id, before)
    system.functions.invoke("reconciler", {"user_id": trader.user_id})
    closed = trader.position(position.position_id)
    assert closed.status is PositionStatus.CLOSED and closed.realized_pnl_usd is not None, closed
    gained = _venue_money(trader) - before
    print(f"rebalance left to an operator, closed by the reconciler: realized {closed.realized_pnl_usd} vs venue "
          f"balances {gained:.6f} (the buy-back realized {realized_by_buy_back}); live before {live['total_usd']}")
    assert abs(closed.realized_pnl_usd - gained) <= 2 * CENT, (closed.realized_pnl_usd, gained)
    # the live figure was what the venues held: the buy-back's realized PnL counted once (in the rebalance cash,
    # with the short at its size at Hyperliquid, not the ledger's)
    assert abs(D(live["total_usd"]) - held) <= LIVE_TOLERANCE_USD, (live, held)
