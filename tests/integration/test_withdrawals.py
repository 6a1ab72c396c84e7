"""Withdrawals on `dnbot local` with every venue simulated: the emailed (printed) code, one payment per
confirmation through the user's Privy wallet signed with the KMS key, refusals that move nothing."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair

from dnbot.domain.bridge import BridgeDirection, BridgeState, new_transfer
from dnbot.domain.positions import Position, PositionStatus, RebalanceInFlight
from dnbot.domain.rebalance import maintenance_rate_from, short_rise, spare_margin_usd
from dnbot.local.system import LocalSystem
from tests.integration.helpers import Client, Terminal, log_in

pytestmark = pytest.mark.xdist_group("moto")

OUTSIDE = str(Keypair().pubkey())  # somebody else's wallet
PAYEE = "0x" + "ab" * 20  # an Arbitrum address of the user's own, outside dnbot


@pytest.fixture(scope="module")
def alice(sim_system: LocalSystem, terminal: Terminal) -> Client:
    return log_in(sim_system, terminal, "alice-w@example.com")


def _balances(system: LocalSystem, address: str) -> dict[str, Decimal]:
    assert system.sim is not None
    described = httpx.get(f"{system.sim.base_url}/sim/solana/balances/{address}").json()
    return {k: Decimal(v) for k, v in described.items() if k in ("sol", "usdc")}


def _code(terminal: Terminal, email: str) -> str:
    for line in reversed(terminal.lines):
        if line.startswith(f"dnbot local: withdrawal code for {email}: "):
            return line.rsplit(" ", 1)[-1]
    raise AssertionError(f"no withdrawal code printed for {email}")


def _wait(client: Client, withdrawal_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = client.get(f"/api/v1/withdrawals/{withdrawal_id}").json()
        if state["status"] in ("sent", "failed"):
            return dict(state)
        time.sleep(0.1)
    raise AssertionError(f"withdrawal {withdrawal_id} still {state['status']}")


def _trader_with_a_3x_position(system: LocalSystem, terminal: Terminal,
                               prefix: str) -> tuple[Client, str, dict[str, Any], Position]:
    """A new user logged in with a 3x, $3,000 SOL position open on Drift: (client, email, /auth/me user, position)."""
    assert system.runtime is not None
    email = f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"
    trader = log_in(system, terminal, email)
    me: dict[str, Any] = trader.get("/api/v1/auth/me").json()["user"]
    opened = trader.wait_job(trader.post("/api/v1/positions/open", {
        "asset": "SOL", "protocol": "drift", "leverage": "3", "size_usd": "3000"}).json()["job_id"], timeout=60)
    assert opened["status"] == "succeeded", opened
    position = system.runtime.store.get_position(me["user_id"], opened["position_id"])
    assert position is not None
    return trader, email, me, position


def test_usdc_withdrawal_pays_once_with_the_emailed_code(sim_system: LocalSystem, terminal: Terminal,
                                                        alice: Client) -> None:
    wallet = alice.get("/api/v1/auth/me").json()["user"]["wallets"]["solana"]
    before = _balances(sim_system, wallet)
    asked = alice.post("/api/v1/withdrawals", {"asset": "USDC", "amount": "25.5", "to": OUTSIDE})
    assert asked.status_code == 202, asked.text
    withdrawal = asked.json()
    assert withdrawal["status"] == "confirm_by_email"
    code = _code(terminal, "alice-w@example.com")
    wrong = "000000" if code != "000000" else "111111"
    refused = alice.post(f"/api/v1/withdrawals/{withdrawal['withdrawal_id']}/confirm", {"code": wrong})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_code"
    assert _balances(sim_system, OUTSIDE).get("usdc", Decimal(0)) == 0
    confirmed = alice.post(f"/api/v1/withdrawals/{withdrawal['withdrawal_id']}/confirm", {"code": code})
    assert confirmed.status_code == 202, confirmed.text
    done = _wait(alice, withdrawal["withdrawal_id"])
    assert done["status"] == "sent" and done["signature"], done
    assert _balances(sim_system, OUTSIDE)["usdc"] == Decimal("25.5")
    assert _balances(sim_system, wallet)["usdc"] == before["usdc"] - Decimal("25.5")
    again = alice.post(f"/api/v1/withdrawals/{withdrawal['withdrawal_id']}/confirm", {"code": code})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_confirmed"
    assert _balances(sim_system, OUTSIDE)["usdc"] == Decimal("25.5")  # the second confirm paid nothing


def test_sol_withdrawal(sim_system: LocalSystem, terminal: Terminal, alice: Client) -> None:
    target = str(Keypair().pubkey())
    asked = alice.post("/api/v1/withdrawals", {"asset": "SOL", "amount": "0.25", "to": target}).json()
    code = _code(terminal, "alice-w@example.com")
    alice.post(f"/api/v1/withdrawals/{asked['withdrawal_id']}/confirm", {"code": code})
    assert _wait(alice, asked["withdrawal_id"])["status"] == "sent"
    assert _balances(sim_system, target)["sol"] == Decimal("0.25")


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"asset": "USDC", "amount": "999999", "to": OUTSIDE}, 400, "insufficient_funds"),
    ({"asset": "SOL", "amount": "5", "to": OUTSIDE}, 400, "insufficient_funds"),
    ({"asset": "USDC", "amount": "-5", "to": OUTSIDE}, 422, "invalid_request"),
    ({"asset": "USDC", "amount": "0", "to": OUTSIDE}, 422, "invalid_request"),
    ({"asset": "USDC", "amount": "1", "to": "not-an-address"}, 422, "invalid_request"),
    ({"asset": "USDC", "amount": "1", "to": "11111111111111111111111111111111"}, 400, "bad_address"),
    ({"asset": "BTC", "amount": "1", "to": OUTSIDE}, 422, "invalid_request"),
    # finer than USDC's 6 decimals: was accepted, confirmed, then left "approved" forever (the transfer cannot be
    # built), the code spent and nothing said
    ({"asset": "USDC", "amount": "1.0000001", "to": OUTSIDE}, 400, "amount_too_precise"),
    ({"asset": "USDC", "amount": "10.0000001", "source": "hyperliquid", "to": PAYEE}, 400, "amount_too_precise"),
])
def test_refusals_move_nothing(sim_system: LocalSystem, alice: Client, body: dict[str, str], status: int,
                               code: str) -> None:
    wallet = alice.get("/api/v1/auth/me").json()["user"]["wallets"]["solana"]
    before = _balances(sim_system, wallet)
    listed = len(alice.get("/api/v1/withdrawals").json()["withdrawals"])
    reply = alice.post("/api/v1/withdrawals", body)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["code"] == code
    assert _balances(sim_system, wallet) == before
    assert len(alice.get("/api/v1/withdrawals").json()["withdrawals"]) == listed  # nothing stored


def test_a_transfer_that_cannot_be_built_fails_rather_than_hangs(sim_system: LocalSystem, terminal: Terminal,
                                                                  alice: Client) -> None:
    """A withdrawal stored before the request checked decimals (1.0000001 USDC): the workflow cannot build its
    transfer; it ends failed with the reason (was: "approved" forever, nothing said), and nothing is paid."""
    from dnbot.adapters.aws.withdrawals import DynamoWithdrawalStore

    assert sim_system.runtime is not None
    target = str(Keypair().pubkey())
    asked = alice.post("/api/v1/withdrawals", {"asset": "USDC", "amount": "1", "to": target}).json()
    store = DynamoWithdrawalStore(sim_system.runtime.state_table)
    me = alice.get("/api/v1/auth/me").json()["user"]
    stored = store.get_withdrawal(me["user_id"], asked["withdrawal_id"])
    assert stored is not None
    assert store.move_withdrawal(replace(stored, amount=Decimal("1.0000001")), expected="confirm_by_email")
    confirmed = alice.post(f"/api/v1/withdrawals/{asked['withdrawal_id']}/confirm",
                           {"code": _code(terminal, "alice-w@example.com")})
    assert confirmed.status_code == 202, confirmed.text
    done = _wait(alice, asked["withdrawal_id"])
    assert done["status"] == "failed" and "smallest unit" in done["error"], done
    assert _balances(sim_system, target).get("usdc", Decimal(0)) == 0


def test_no_cross_user_withdrawals(sim_system: LocalSystem, terminal: Terminal, alice: Client) -> None:
    asked = alice.post("/api/v1/withdrawals", {"asset": "USDC", "amount": "1", "to": OUTSIDE}).json()
    code = _code(terminal, "alice-w@example.com")
    bob = log_in(sim_system, terminal, "bob-w@example.com")
    assert bob.get(f"/api/v1/withdrawals/{asked['withdrawal_id']}").status_code == 404
    assert bob.post(f"/api/v1/withdrawals/{asked['withdrawal_id']}/confirm", {"code": code}).status_code == 404
    assert bob.get("/api/v1/withdrawals").json()["withdrawals"] == []
    assert alice.get(f"/api/v1/withdrawals/{asked['withdrawal_id']}").json()["status"] == "confirm_by_email"


def test_hyperliquid_withdraw3_pays_an_arbitrum_address_and_the_sweep_leaves_it(
        sim_system: LocalSystem, terminal: Terminal, alice: Client) -> None:
    """Hyperliquid pays out on Arbitrum. It used to pay the account's own EVM wallet only, the deposit address: the
    next deposit sweep sent the 99 USDC straight back to Hyperliquid (a "deposit"), so nothing ever left and each
    try cost the $1 fee and gas. Now the user names their Arbitrum address; their own EVM wallet is refused."""
    assert sim_system.sim is not None and sim_system._scheduler is not None
    evm = alice.get("/api/v1/auth/me").json()["user"]["wallets"]["evm"]
    base = sim_system.sim.base_url

    def arbitrum_usdc(address: str) -> Decimal:
        return Decimal(httpx.get(f"{base}/sim/arbitrum/balances/{address}").json()["usdc"])

    def withdrawable() -> Decimal:
        return Decimal(httpx.get(f"{base}/sim/hyperliquid/accounts/{evm}").json()["withdrawable"])

    before_payee, before_own, before_hl = arbitrum_usdc(PAYEE), arbitrum_usdc(evm), withdrawable()
    listed = len(alice.get("/api/v1/withdrawals").json()["withdrawals"])
    for to in (evm, evm.lower(), None, "0x2Df1c51E09aECF9cacB7bc98cB1742757f163dF7"):
        refused = alice.post("/api/v1/withdrawals", {"asset": "USDC", "amount": "100", "source": "hyperliquid",
                                                     **({"to": to} if to else {})})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_address", refused.text
    sol = alice.post("/api/v1/withdrawals", {"asset": "SOL", "amount": "1", "source": "hyperliquid", "to": PAYEE})
    assert sol.status_code == 400 and sol.json()["error"]["message"] == "Hyperliquid pays out USDC only."
    too_much = alice.post("/api/v1/withdrawals", {"asset": "USDC", "amount": "999999", "source": "hyperliquid",
                                                  "to": PAYEE})
    assert too_much.status_code == 400 and too_much.json()["error"]["code"] == "insufficient_funds"
    # no position: the venue's withdrawable is what is free (no short to keep from liquidation)
    assert too_much.json()["error"]["message"] == f"Only {before_hl} USDC is free to withdraw from Hyperliquid."
    assert len(alice.get("/api/v1/withdrawals").json()["withdrawals"]) == listed  # the refusals stored nothing
    asked = alice.post("/api/v1/withdrawals", {"asset": "USDC", "amount": "100", "source": "hyperliquid",
                                               "to": PAYEE})
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert body["to"] == PAYEE and body["source"] == "hyperliquid"
    confirmed = alice.post(f"/api/v1/withdrawals/{body['withdrawal_id']}/confirm",
                           {"code": _code(terminal, "alice-w@example.com")})
    assert confirmed.status_code == 202, confirmed.text
    done = _wait(alice, body["withdrawal_id"])
    assert done["status"] == "sent", done
    assert arbitrum_usdc(PAYEE) == before_payee + Decimal(99)  # Hyperliquid keeps its $1 fee
    assert withdrawable() == before_hl - Decimal(100)
    sim_system._scheduler.run_once("deposit_sweep")
    assert arbitrum_usdc(PAYEE) == before_payee + Decimal(99) and arbitrum_usdc(evm) == before_own
    assert withdrawable() == before_hl - Decimal(100)  # nothing came back


def test_parallel_confirmations_pay_once(sim_system: LocalSystem, terminal: Terminal, alice: Client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    target = str(Keypair().pubkey())
    asked = alice.post("/api/v1/withdrawals", {"asset": "USDC", "amount": "3", "to": target}).json()
    code = _code(terminal, "alice-w@example.com")
    path = f"/api/v1/withdrawals/{asked['withdrawal_id']}/confirm"
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: alice.post(path, {"code": code}).status_code, range(6)))
    assert statuses.count(202) == 1 and all(s in (202, 401, 409) for s in statuses), statuses
    assert _wait(alice, asked["withdrawal_id"])["status"] == "sent"
    assert _balances(sim_system, target)["usdc"] == Decimal(3)


def test_hyperliquid_withdrawals_keep_an_open_short_at_its_rebalance_distance(sim_system: LocalSystem,
                                                                              terminal: Terminal) -> None:
    """The venue's withdrawable keeps only the short's initial margin (the account's 10x): with a 3x position it
    would leave the short a few % from liquidation and the long naked on a spike. A withdrawal may take only what
    keeps the short at the position's rebalance target distance (its distance at the open). The replayed SOL price
    moves a little every second, so figures read here are compared to the cent."""
    assert sim_system.sim is not None and sim_system.runtime is not None
    trader, email, me, position = _trader_with_a_3x_position(sim_system, terminal, "keeper")
    evm, base = me["wallets"]["evm"], sim_system.sim.base_url
    distance = sim_system.runtime.risk.readings(position).liquidation_distance_at_open
    assert distance is not None and Decimal("0.1") < distance < Decimal("0.5")  # the 3x long's, at the open

    def account() -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal, Decimal]:
        """(value, withdrawable, short SOL, mark, liquidation price, raw USDC: price-independent)."""
        state = httpx.get(f"{base}/sim/hyperliquid/accounts/{evm}").json()
        short = state["assetPositions"][0]["position"]
        size = -Decimal(short["szi"])
        return (Decimal(state["marginSummary"]["accountValue"]), Decimal(state["withdrawable"]), size,
                Decimal(short["positionValue"]) / size, Decimal(short["liquidationPx"]),
                Decimal(state["marginSummary"]["totalRawUsd"]))

    value, withdrawable, size, price, liquidation, raw = account()
    rate = maintenance_rate_from(value, size, price, liquidation)
    spare = spare_margin_usd(value, size, price, rate, distance)
    assert Decimal(0) < spare < withdrawable - 100  # the venue would let far more go
    # what the venue's withdrawable would have left: the short much nearer its liquidation than at the open
    assert short_rise(value - withdrawable, size, price, rate) < distance - Decimal("0.05")

    def arbitrum_usdc() -> Decimal:
        return Decimal(httpx.get(f"{base}/sim/arbitrum/balances/{PAYEE}").json()["usdc"])

    listed, paid_before = trader.get("/api/v1/withdrawals").json()["withdrawals"], arbitrum_usdc()
    refused = trader.post("/api/v1/withdrawals", {"asset": "USDC", "amount": str(withdrawable),
                                                  "source": "hyperliquid", "to": PAYEE})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == "insufficient_funds"
    message = refused.json()["error"]["message"]
    offered = Decimal(message.removeprefix("Only ").split(" ", 1)[0])
    assert message == (f"Only {offered} USDC is free to withdraw from Hyperliquid: the rest keeps your open short "
                       f"{distance:.1%} from liquidation.")
    assert offered == offered.quantize(Decimal("0.01")) and abs(offered - spare) < Decimal("0.05")
    over = (spare + Decimal("0.5")).quantize(Decimal("0.01"))
    just_over = trader.post("/api/v1/withdrawals", {"asset": "USDC", "amount": str(over), "source": "hyperliquid",
                                                    "to": PAYEE})
    assert just_over.status_code == 400 and just_over.json()["error"]["code"] == "insufficient_funds"
    assert trader.get("/api/v1/withdrawals").json()["withdrawals"] == listed
    assert account()[2::3] == (size, raw) and arbitrum_usdc() == paid_before  # nothing moved

    amount = (spare - Decimal("0.5")).quantize(Decimal("0.01"))  # what is spare, less the price's drift
    asked = trader.post("/api/v1/withdrawals", {"asset": "USDC", "amount": str(amount), "source": "hyperliquid",
                                                "to": PAYEE})
    assert asked.status_code == 202, asked.text
    confirmed = trader.post(f"/api/v1/withdrawals/{asked.json()['withdrawal_id']}/confirm",
                            {"code": _code(terminal, email)})
    assert confirmed.status_code == 202, confirmed.text
    assert _wait(trader, asked.json()["withdrawal_id"])["status"] == "sent"
    value, _, size_after, price, liquidation, raw_after = account()
    assert size_after == size and raw_after == raw - amount
    assert arbitrum_usdc() == paid_before + amount - 1  # Hyperliquid keeps its $1 fee
    # the short is left at the distance it had at the open (the venue's own liquidation price says so)
    assert distance < liquidation / price - 1 < distance + Decimal("0.002")


def test_a_withdrawal_of_rebalance_cash_is_capital_returned(sim_system: LocalSystem, terminal: Terminal) -> None:
    """A rebalance's partial close paid the long's share of equity to the wallet, and the position counts it. The
    wallet's own USDC goes first; what a withdrawal takes of that cash leaves the position's books as capital (its
    cash, collateral basis and peak drop alike), so its equity reading stops counting money that is gone without
    the drawdown breaker reading a loss, and its realized PnL (cash - collateral) stays."""
    assert sim_system.sim is not None and sim_system.runtime is not None
    trader, email, me, position = _trader_with_a_3x_position(sim_system, terminal, "cash")
    store = sim_system.runtime.store
    # as a partial close of a third of the long would have left it: 500 paid to the wallet, 480 of collateral
    # the smaller ledger long no longer shows, a peak the tick stored
    store.save_position(replace(position, rebalance_cash_usd=Decimal(500), rebalance_collateral_usd=Decimal(480),
                                peak_equity_usd=Decimal(1100)))
    wallet = _balances(sim_system, me["wallets"]["solana"])["usdc"]
    assert wallet > 700
    amount = wallet - 200  # all the trader's own USDC and 300 of the position's cash
    asked = trader.post("/api/v1/withdrawals", {"asset": "USDC", "amount": str(amount), "to": OUTSIDE})
    assert asked.status_code == 202, asked.text
    trader.post(f"/api/v1/withdrawals/{asked.json()['withdrawal_id']}/confirm", {"code": _code(terminal, email)})
    assert _wait(trader, asked.json()["withdrawal_id"])["status"] == "sent"
    after = store.get_position(me["user_id"], position.position_id)
    assert after is not None and after.status is PositionStatus.OPEN
    assert (after.rebalance_cash_usd, after.rebalance_collateral_usd, after.peak_equity_usd) == (
        Decimal(200), Decimal(180), Decimal(800))
    assert _balances(sim_system, me["wallets"]["solana"])["usdc"] == Decimal(200)


def test_the_free_figure_is_the_largest_withdrawal_a_request_accepts(sim_system: LocalSystem,
                                                                      terminal: Terminal) -> None:
    """GET /withdrawals/free reads what the request checks: with a 3x position open, its Hyperliquid figure is
    accepted and a cent more is refused. The replayed SOL price moves every second: an attempt counts only when the
    figure read before and after the two requests is the same."""
    assert sim_system.sim is not None and sim_system.runtime is not None
    trader, _, me, position = _trader_with_a_3x_position(sim_system, terminal, "free")
    distance = sim_system.runtime.risk.readings(position).liquidation_distance_at_open
    assert distance is not None

    assert sim_system.world is not None
    clock = sim_system.world.clock
    speed = clock.speed
    clock.set_speed(0)  # the replayed price holds still: on a loaded machine it moved during every attempt
    try:
        over, exact, figure = _free_figure_tried(trader, sim_system, me, distance)
    finally:
        clock.set_speed(speed)
    venue = httpx.get(f"{sim_system.sim.base_url}/sim/hyperliquid/accounts/{me['wallets']['evm']}").json()
    assert Decimal(2) < figure < Decimal(venue["withdrawable"])  # less than the venue itself would let go
    assert over.status_code == 400 and over.json()["error"]["code"] == "insufficient_funds", over.text
    assert over.json()["error"]["message"].startswith(f"Only {figure} USDC is free to withdraw from Hyperliquid")
    assert exact.status_code == 202, exact.text


def _free_figure_tried(trader: Client, sim_system: LocalSystem, me: dict[str, Any],
                       distance: Decimal) -> tuple[httpx.Response, httpx.Response, Decimal]:
    """The free figure read, then a withdrawal of a cent more and one of exactly it: an attempt counts when the
    figure read after the two requests is the same."""
    for _ in range(3):  # at most 6 requests: within the 10 an hour a user may ask
        read = trader.get("/api/v1/withdrawals/free")
        assert read.status_code == 200, read.text
        free = read.json()
        assert free["unavailable"] == {}
        assert Decimal(free["solana"]["USDC"]) == _balances(sim_system, me["wallets"]["solana"])["usdc"]
        figure = Decimal(free["hyperliquid"]["USDC"])
        assert free["hyperliquid"]["limited_by"] == f"keeps your open short {distance:.1%} from liquidation"
        over = trader.post("/api/v1/withdrawals", {"asset": "USDC", "amount": str(figure + Decimal("0.01")),
                                                   "source": "hyperliquid", "to": PAYEE})
        exact = trader.post("/api/v1/withdrawals", {"asset": "USDC", "amount": str(figure),
                                                    "source": "hyperliquid", "to": PAYEE})
        if Decimal(trader.get("/api/v1/withdrawals/free").json()["hyperliquid"]["USDC"]) == figure:
            return over, exact, figure
    raise AssertionError("the SOL price moved during every attempt")


def test_the_free_read_answers_a_source_it_cannot_read_as_null(sim_system: LocalSystem, terminal: Terminal) -> None:
    """Hyperliquid down: its figure is null with the reason; the Solana wallet's still answers (200, not a 5xx)."""
    assert sim_system.sim is not None
    trader = log_in(sim_system, terminal, f"free-down-{uuid.uuid4().hex[:8]}@example.com")
    faults = f"{sim_system.sim.base_url}/sim/faults"
    httpx.post(faults, json={"venue": "hyperliquid", "call": "*", "kind": "5xx", "times": 50})
    try:
        read = trader.get("/api/v1/withdrawals/free")
    finally:
        httpx.delete(faults)
    assert read.status_code == 200, read.text
    assert read.json()["hyperliquid"] is None and read.json()["solana"] is not None
    assert "Hyperliquid" in read.json()["unavailable"]["hyperliquid"]


def test_no_withdrawal_while_usdc_is_on_its_way_between_the_venues_or_a_rebalance_moves_it(
        sim_system: LocalSystem, terminal: Terminal) -> None:
    """A to_long transfer's USDC is minted to the Solana wallet and waits there for the long's repayment; a planned
    burn's USDC is reserved: a withdrawal in between could take it. Both are refused (409, nothing stored) until
    the transfer is credited, and so is one while a rebalance is in flight."""
    assert sim_system.runtime is not None
    trader, _, me, position = _trader_with_a_3x_position(sim_system, terminal, "in-motion")
    body = {"asset": "USDC", "amount": "10", "to": OUTSIDE}
    transfers = sim_system.runtime.bridge_transfers
    moving = replace(new_transfer(user_id=me["user_id"], position_id=position.position_id, n=1,
                                  direction=BridgeDirection.TO_LONG, amount_usd=Decimal(300), max_fee=Decimal("0.04"),
                                  mint_recipient=me["wallets"]["solana"], at=position.created_at),
                     state=BridgeState.MINTED, minted_usd=Decimal("299.97"))
    transfers.create(moving)
    refused = trader.post("/api/v1/withdrawals", body)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "funds_in_motion", refused.text
    assert "on its way" in refused.json()["error"]["message"]
    assert trader.get("/api/v1/withdrawals").json()["withdrawals"] == []
    transfers.save(replace(moving, state=BridgeState.CREDITED, version=moving.version + 1))

    store = sim_system.runtime.store
    current = store.get_position(me["user_id"], position.position_id)
    assert current is not None
    store.save_position(replace(current, rebalancing=RebalanceInFlight(
        1, Decimal("1.5"), Decimal(2), 0, current.created_at, "test")))
    refused = trader.post("/api/v1/withdrawals", body)
    assert refused.status_code == 409 and "rebalance" in refused.json()["error"]["message"], refused.text
    current = store.get_position(me["user_id"], position.position_id)
    assert current is not None
    store.save_position(replace(current, rebalancing=None))
    assert trader.post("/api/v1/withdrawals", body).status_code == 202
