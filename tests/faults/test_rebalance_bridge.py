"""Hold and rebalance with the bridge (issue 9; docs/bridge.md): a position drifting toward a liquidation is
re-centred by moving USDC between the venues over Circle's CCTP, through the production adapters against
`dnbot sim` (its chains verify the simulated attesters' signatures) and the rebalance workflow in moto:
- after a fall, the short's spare margin leaves Hyperliquid for the user's Arbitrum wallet, is burned there,
  minted to the user's Solana USDC account and repays the long's debt: NOTHING is traded, both legs keep their size;
- after a rally, a partial close smaller than a shrink's, the same buy-back of the short, then the partial close's
  USDC bridged to Arbitrum and deposited into the Hyperliquid account;
- a bridge that cannot move the USDC (Hyperliquid refuses the withdrawal) falls back to the shrink;
and the close's realized total is what the user's venue balances gained, bridge fees included (the rebalances'
transfers and the close's capital split)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from dnbot.adapters.asgard.venue import AsgardLongVenue
from dnbot.domain.bridge import BridgeState, BridgeTransfer
from dnbot.domain.positions import PositionStatus
from dnbot.domain.risk import Verdict, assess, joint_view
from dnbot.local.system import LocalSystem
from tests.faults.helpers import fault
from tests.faults.test_rebalance_inplace import (
    EXITS,
    Execution,
    Trader,
    _calm_market,  # noqa: F401  (an autouse fixture: faults cleared, the price back after each test)
    _crash_until_rebalance,
    _rally_until_rebalance,
    distance,
    move,
)
from tests.integration.helpers import Terminal, embedded_system

pytestmark = pytest.mark.xdist_group("moto")

D = Decimal
CENT = D("0.01")
_emails = iter(range(1000))


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, terminal: Terminal) -> Iterator[LocalSystem]:
    """The product's default: rebalances may move USDC over the (simulated) bridge."""
    with embedded_system(tmp_path_factory.mktemp("state"), terminal, "sim", bridge_rebalance=True) as local:
        yield local


@pytest.fixture
def trader(system: LocalSystem, terminal: Terminal) -> Trader:
    return Trader(system, terminal, f"bridge{next(_emails)}@example.com")


def _balances(trader: Trader) -> dict[str, Decimal]:
    user = trader.user()
    solana = httpx.get(f"{trader.sim}/sim/solana/balances/{user.solana_address}").json()
    arbitrum = httpx.get(f"{trader.sim}/sim/arbitrum/balances/{user.evm_address}").json()
    state = httpx.post(f"{trader.sim}/hyperliquid/info",
                       json={"type": "clearinghouseState", "user": user.evm_address}).json()
    return {"solana": D(solana["usdc"]), "arbitrum": D(arbitrum["usdc"]),
            "hyperliquid": D(state["marginSummary"]["accountValue"])}


def _money(trader: Trader) -> Decimal:
    return sum(_balances(trader).values(), D(0))


def _transfers(trader: Trader) -> list[BridgeTransfer]:
    from dnbot.adapters.aws.bridge_transfers import DynamoBridgeTransferStore

    return list(DynamoBridgeTransferStore(trader.runtime.state_table).list_for_user(trader.user_id))


def _wait_close_execution(trader: Trader, position_id: str, timeout: float = 150) -> Execution:
    arn = trader.runtime.settings.close_state_machine_arn.replace(":stateMachine:", ":execution:")
    client = trader.runtime.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        described = client.describe_execution(executionArn=f"{arn}:close-{position_id}")
        if described["status"] != "RUNNING":
            history = client.get_execution_history(executionArn=f"{arn}:close-{position_id}",
                                                   maxResults=1000)["events"]
            entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
            return Execution(described["status"], json.loads(described.get("output") or "{}"), entered)
        assert time.monotonic() < deadline, f"close of {position_id} still running after {timeout} s"
        time.sleep(0.2)


def _capital_fees(trader: Trader, position_id: str) -> Decimal:
    """What the close's capital split paid (booked on the closed position once its USDC arrived)."""
    fees = D(0)
    for transfer in _transfers(trader):
        if transfer.position_id == position_id and transfer.transfer_id.split(":")[1] == "0":
            assert transfer.state is BridgeState.CREDITED and transfer.minted_usd is not None, transfer
            fees += transfer.amount_usd - transfer.minted_usd + (D(1) if transfer.direction.value == "to_long" else 0)
    return fees


def _close_and_check(trader: Trader, position_id: str, before: Decimal, what: str) -> Execution:
    job = trader.client.wait_job(trader.client.post(f"/api/v1/positions/{position_id}/close").json()["job_id"],
                                 timeout=90)
    assert job["status"] == "succeeded", job
    execution = _wait_close_execution(trader, position_id)
    assert execution.status == "SUCCEEDED" and "CapitalNotMoved" not in execution.states, execution
    closed = trader.client.get(f"/api/v1/positions/{position_id}").json()
    assert closed["status"] == "closed" and closed["pnl_kind"] == "realized", closed
    gained = _money(trader) - before
    split_fees = _capital_fees(trader, position_id)
    total = D(closed["pnl"]["total_usd"])
    venues = _balances(trader)
    print(f"{what}: realized {total} vs the venue balances' change {gained:.6f} (the capital split's "
          f"${split_fees:.2f} of fees included); after the close Solana {venues['solana']:.2f}, Hyperliquid "
          f"{venues['hyperliquid']:.2f} USDC")
    assert abs(total - gained) <= 3 * CENT, (total, gained)
    ledger = trader.runtime.store.get_position(trader.user_id, position_id)
    assert ledger is not None and ledger.realized_pnl_usd == total  # the breakdown (shown) and the ledger agree
    return execution


def test_a_fall_moves_the_short_s_spare_margin_to_the_long_and_trades_nothing(trader: Trader) -> None:
    before = _money(trader)
    position = trader.open(leverage="3")
    readings = _crash_until_rebalance(trader, position.position_id)
    assert joint_view(readings).first == "long"
    venues = _balances(trader)
    long_venue = trader.runtime.long_venue
    assert isinstance(long_venue, AsgardLongVenue)
    long_before = long_venue.long_state(trader.user_id, position.position_id)
    assert long_before is not None
    execution = trader.rebalance(position.position_id)
    assert execution.status == "SUCCEEDED", execution
    assert execution.states[:3] == ["RebalancePreflight", "Started", "BridgePlanLong"], execution
    assert "RebalanceShort" not in execution.states and "FallbackShrink" not in execution.states, execution
    assert execution.states[-3:] == ["LongMint", "RepayDebt", "MarkBridgedLong"], execution

    [transfer] = _transfers(trader)
    assert transfer.state is BridgeState.CREDITED and transfer.minted_usd is not None
    after_position = trader.position(position.position_id)
    assert after_position.rebalancing is None and after_position.rebalances == 1
    assert after_position.short_leg == position.short_leg and after_position.long_leg == position.long_leg
    assert trader.fills(position.position_id, "rebalance-1") == []  # no buy-back: nothing traded
    long_after = long_venue.long_state(trader.user_id, position.position_id)
    assert long_after is not None
    assert long_after.size == long_before.size
    repaid = long_before.debt_usd - long_after.debt_usd
    assert abs(repaid - transfer.minted_usd) < CENT, (repaid, transfer)
    moved = venues["hyperliquid"] - _balances(trader)["hyperliquid"]
    after = trader.readings(position.position_id)
    assert readings.liquidation_distance_at_open is not None
    assert distance(after) >= readings.liquidation_distance_at_open * EXITS.rebalance_share
    assert assess(after, EXITS).verdict is Verdict.HOLD
    report = trader.invariant("a fall re-centred by the bridge: Hyperliquid margin -> the long's debt")
    assert report.naked_legs == 0 and report.duplicate_orders == 0
    print(f"bridge after a fall: distance {distance(readings):.1%} -> {distance(after):.1%}, ${moved:.2f} left "
          f"Hyperliquid, ${repaid:.2f} repaid the long's debt, legs unchanged")
    _close_and_check(trader, position.position_id, before, "bridge after a fall, then closed")


def test_a_rally_shrinks_less_and_bridges_the_partial_close_to_the_short(trader: Trader) -> None:
    before = _money(trader)
    position = trader.open()
    readings = _rally_until_rebalance(trader, position.position_id)
    assert joint_view(readings).first == "short"
    hyperliquid_before = _balances(trader)["hyperliquid"]
    execution = trader.rebalance(position.position_id)
    assert execution.status == "SUCCEEDED", execution
    assert execution.states == ["RebalancePreflight", "Started", "RebalanceShort", "RebalanceLong", "MarkRebalanced",
                                "BridgeAfterShrink", "BridgePlanShort", "Planned", "ShortBurn", "ShortAttest",
                                "ShortMint", "MarkBridgedShort"], execution
    [transfer] = _transfers(trader)
    assert transfer.state is BridgeState.CREDITED, transfer
    after_position = trader.position(position.position_id)
    assert position.short_leg is not None and after_position.short_leg is not None
    shed = position.short_leg.size - after_position.short_leg.size
    assert shed > 0
    # the partial close's USDC is in the Hyperliquid account now (deposited by the sweep), not idle in the wallet
    assert after_position.rebalance_cash_usd < transfer.amount_usd
    after = trader.readings(position.position_id)
    assert readings.liquidation_distance_at_open is not None
    assert distance(after) >= readings.liquidation_distance_at_open * EXITS.rebalance_share
    report = trader.invariant("a rally re-centred by the bridge: partial close -> the short's margin")
    assert report.naked_legs == 0 and report.duplicate_orders == 0
    print(f"bridge after a rally: short -{shed} SOL, ${transfer.amount_usd} bridged, Hyperliquid account "
          f"{hyperliquid_before:.2f} -> {_balances(trader)['hyperliquid']:.2f}, distance {distance(readings):.1%} -> "
          f"{distance(after):.1%}")
    _close_and_check(trader, position.position_id, before, "bridge after a rally, then closed")


def test_a_refused_withdrawal_falls_back_to_the_shrink(system: LocalSystem, trader: Trader) -> None:
    position = trader.open(leverage="3")
    _crash_until_rebalance(trader, position.position_id)
    fault(system, "hyperliquid", "withdraw3", "reject", times=5)
    execution = trader.rebalance(position.position_id)
    assert execution.status == "SUCCEEDED", execution
    assert execution.states == ["RebalancePreflight", "Started", "BridgePlanLong", "MarginOut", "FallbackShrink",
                                "FellBack", "RebalanceShort", "RebalanceLong", "MarkRebalanced",
                                "BridgeAfterShrink", "Rebalanced"], execution
    [transfer] = _transfers(trader)
    assert transfer.state is BridgeState.ABANDONED, transfer
    after_position = trader.position(position.position_id)
    assert after_position.status is PositionStatus.OPEN and after_position.rebalancing is None
    assert position.short_leg is not None and after_position.short_leg is not None
    assert after_position.short_leg.size < position.short_leg.size  # shrunk instead
    report = trader.invariant("a bridge refused at Hyperliquid's withdrawal: the shrink instead")
    assert report.naked_legs == 0 and report.duplicate_orders == 0


def test_a_close_splits_the_capital_between_the_venues_again_for_the_next_open(trader: Trader) -> None:
    """After a rally the long holds the gain and the short's account the loss: the close's capital split moves half
    the difference to Hyperliquid, so the next open can use all of the capital (it sizes on twice the smaller
    side)."""
    before = _money(trader)
    position = trader.open(leverage="2")
    move(trader.system, D("1.12"))  # no rebalance at 2x, but the legs' equity now differ by about $1,900
    execution = _close_and_check(trader, position.position_id, before, "a close after a 12% rally")
    assert execution.states[-6:] == ["CapitalPlanned", "CapitalBurn", "CapitalAttest", "CapitalMint", "CapitalDone",
                                     "Closed"], execution
    venues = _balances(trader)
    assert abs(venues["solana"] - venues["hyperliquid"]) < 25, venues  # split again (what is left is fees)
    move(trader.system, D(1))
    # $9,500 needs $4,750 on each venue: the Hyperliquid account alone held about $4,040 after the rally
    reopened = trader.open(leverage="2", size_usd="9500")
    assert reopened.status is PositionStatus.OPEN


def test_a_close_after_a_fall_moves_the_short_s_gain_back_to_solana(trader: Trader) -> None:
    """The other direction: after a fall the Hyperliquid account holds the short's gain, so the close's capital
    split withdraws half the difference to the user's own Arbitrum wallet (once, Hyperliquid's $1 fee) and bridges
    it to the Solana wallet."""
    before = _money(trader)
    position = trader.open(leverage="2")
    move(trader.system, D("0.88"))  # no rebalance at 2x, but the short's account now holds about $960 more
    execution = _close_and_check(trader, position.position_id, before, "a close after a 12% fall")
    assert execution.states[-9:] == ["CapitalPlan", "CapitalPlanned", "CapitalMarginOut", "CapitalMarginArrived",
                                     "CapitalBurn", "CapitalAttest", "CapitalMint", "CapitalDone", "Closed"], execution
    venues = _balances(trader)
    assert abs(venues["solana"] - venues["hyperliquid"]) < 25 and venues["arbitrum"] < 1, venues
