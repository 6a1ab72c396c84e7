"""The official hyperliquid-python-sdk, unmodified, against `dnbot sim`'s /hyperliquid."""

from __future__ import annotations

from decimal import Decimal

import eth_account
import httpx
import pytest
from eth_account.signers.local import LocalAccount
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info
from hyperliquid.utils.signing import get_timestamp_ms
from hyperliquid.utils.types import Cloid

from dnbot.sim.server import RunningSim


@pytest.fixture(scope="module")
def base_url(sim: RunningSim) -> str:
    return sim.url("hyperliquid")


def _funded_user(sim: RunningSim, usdc: str = "10000") -> LocalAccount:
    user: LocalAccount = eth_account.Account.create()
    reply = httpx.post(f"{sim.base_url}/sim/hyperliquid/fund", json={"user": user.address, "usdc": usdc})
    assert reply.status_code == 200, reply.text
    return user


def _approved_agent(base_url: str, user: LocalAccount) -> LocalAccount:
    result, agent_key = Exchange(user, base_url).approve_agent()
    assert result == {"status": "ok", "response": {"type": "default"}}, result
    return eth_account.Account.from_key(agent_key)


def test_info_reads_meta_and_seven_days_of_funding(base_url: str) -> None:
    info = Info(base_url, skip_ws=True)
    assert "SOL" in info.name_to_coin and info.asset_to_sz_decimals[info.name_to_asset("SOL")] == 2
    now_ms = get_timestamp_ms()
    history = info.funding_history("SOL", now_ms - 7 * 24 * 3600 * 1000)
    assert 167 <= len(history) <= 169
    assert all(row["coin"] == "SOL" and Decimal(row["fundingRate"]) for row in history[:3])
    times = [row["time"] for row in history]
    assert times == sorted(times) and times[1] - times[0] == 3600 * 1000


def test_agent_opens_and_closes_a_sol_short(sim: RunningSim, base_url: str) -> None:
    user = _funded_user(sim)
    agent = _approved_agent(base_url, user)
    trader = Exchange(agent, base_url, account_address=user.address)
    assert trader.update_leverage(3, "SOL")["status"] == "ok"
    opened = trader.market_open("SOL", False, 1.5, cloid=Cloid.from_int(7))
    assert opened["status"] == "ok", opened
    filled = opened["response"]["data"]["statuses"][0]["filled"]
    assert Decimal(filled["totalSz"]) == Decimal("1.5")

    info = Info(base_url, skip_ws=True)
    position = info.user_state(user.address)["assetPositions"][0]["position"]
    assert position["coin"] == "SOL" and Decimal(position["szi"]) == Decimal("-1.5")
    assert info.query_order_by_cloid(user.address, Cloid.from_int(7))["order"]["status"] == "filled"

    closed = trader.market_close("SOL")
    assert closed["status"] == "ok", closed
    assert info.user_state(user.address)["assetPositions"] == []
    fills = info.user_fills(user.address)
    assert [f["dir"] for f in fills] == ["Close Short", "Open Short"]
    assert all(Decimal(f["fee"]) > 0 for f in fills)


def test_a_strangers_signature_is_refused(sim: RunningSim, base_url: str) -> None:
    user = _funded_user(sim)
    stranger: LocalAccount = eth_account.Account.create()
    answer = Exchange(stranger, base_url, account_address=user.address).market_open("SOL", False, 1.0)
    assert answer["status"] == "err" and "does not exist" in answer["response"]


def test_a_reused_nonce_is_refused(sim: RunningSim, base_url: str) -> None:
    user = _funded_user(sim)
    exchange = Exchange(user, base_url)
    from hyperliquid.utils.signing import sign_l1_action

    action = {"type": "scheduleCancel", "time": get_timestamp_ms() + 60_000}
    nonce = get_timestamp_ms()
    signature = sign_l1_action(user, action, None, nonce, None, False)
    assert exchange._post_action(action, signature, nonce)["status"] == "ok"
    again = exchange._post_action(action, signature, nonce)
    assert again == {"status": "err", "response": "Invalid nonce: duplicate nonce"}


def test_funding_accrues_to_the_short_each_hour(sim: RunningSim, base_url: str) -> None:
    user = _funded_user(sim)
    agent = _approved_agent(base_url, user)
    Exchange(agent, base_url, account_address=user.address).market_open("SOL", False, 2)
    info = Info(base_url, skip_ws=True)
    start = get_timestamp_ms() - 1000
    httpx.post(f"{sim.base_url}/sim/clock", json={"advance_hours": 3})
    payments = info.user_funding_history(user.address, start)
    assert len(payments) >= 2
    for payment in payments:
        delta = payment["delta"]
        rate, usdc = Decimal(delta["fundingRate"]), Decimal(delta["usdc"])
        assert Decimal(delta["szi"]) == Decimal(-2)
        # POSITIVE funding: longs pay shorts, so the short RECEIVES (and pays when it is negative)
        assert (usdc > 0) == (rate > 0) or rate == 0


def test_an_order_without_margin_is_refused(sim: RunningSim, base_url: str) -> None:
    user = _funded_user(sim, "10")
    answer = Exchange(user, base_url).market_open("SOL", False, 5)
    assert "Insufficient margin" in answer["response"]["data"]["statuses"][0]["error"]


def test_a_badly_rounded_price_is_refused(sim: RunningSim, base_url: str) -> None:
    user = _funded_user(sim)
    answer = Exchange(user, base_url).order("SOL", False, 1, 123.456789, {"limit": {"tif": "Ioc"}})
    assert answer["response"]["data"]["statuses"][0] == {"error": "Order has invalid price."}
