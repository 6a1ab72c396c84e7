"""The Hyperliquid adapter: parsing against recorded real responses, golden signatures, and the whole short leg
against the simulator (which verifies every signature)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import eth_account
import httpx
import pytest
import yaml
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from hyperliquid.utils.signing import sign_l1_action

from dnbot.adapters.asgard.client import AsgardClient
from dnbot.adapters.hyperliquid.info import HyperliquidInfo
from dnbot.adapters.hyperliquid.positions import ACTION_OPEN, action_of, cloid_for, position_key, position_key_of
from dnbot.adapters.hyperliquid.trading import (
    HyperliquidShortVenue,
    InMemoryNonces,
    round_price,
    signature_parts,
)
from dnbot.adapters.reconciliation import VenueTruthAdapter
from dnbot.ports import ShortMargin, VenueRejected
from dnbot.sim.server import RunningSim

CASSETTES = Path(__file__).parents[2] / "fixtures/recorded/hyperliquid/sdk_recordings"


def recorded_transport(*names: str) -> httpx.MockTransport:
    """Answers each recorded request body with its recorded response (the SDK's own vcrpy cassettes)."""
    answers: dict[str, str] = {}
    for name in names:
        for interaction in yaml.safe_load((CASSETTES / name).read_text())["interactions"]:
            answers[json.dumps(json.loads(interaction["request"]["body"]), sort_keys=True)] = \
                interaction["response"]["body"]["string"]

    def handle(request: httpx.Request) -> httpx.Response:
        key = json.dumps(json.loads(request.content), sort_keys=True)
        if key not in answers:
            return httpx.Response(404, text=f"not recorded: {key}")
        return httpx.Response(200, text=answers[key], headers={"content-type": "application/json"})

    return httpx.MockTransport(handle)


def test_clearinghouse_state_parses_from_the_recording() -> None:
    transport = recorded_transport("tests/cassettes/info_test/test_get_user_state.yaml")
    info = HyperliquidInfo("https://api.hyperliquid.xyz", transport=transport, coin="BTC")
    user = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
    assert info.sol_position_size(user) == Decimal("-0.00785")
    assert info.account_value_usd(user) > 0 and info.withdrawable_usd(user) >= 0
    margin = info.short_margin(user)  # what a withdrawal leaves the short: its value, size, mark and liquidation
    assert margin == ShortMargin(Decimal("1182.312496"), Decimal("0.00785"), Decimal("211.64542") / Decimal("0.00785"),
                                 Decimal("173198.69592357"))


def test_funding_history_parses_oldest_first_from_the_recording() -> None:
    info = HyperliquidInfo("https://api.hyperliquid.xyz", coin="BTC", now_ms=lambda: 1681923833000 + 2 * 3_600_000,
                           transport=recorded_transport("tests/cassettes/info_test/test_get_funding_history[None].yaml"))
    rates = info.funding_history_hourly(2)
    assert rates == [Decimal(r) for r in rates] and len(rates) == 2  # the last two recorded, oldest first


def test_user_funding_sums_one_coins_payments() -> None:
    name = "tests/cassettes/info_test/test_user_funding_history_with_end_time.yaml"
    record = yaml.safe_load((CASSETTES / name).read_text())["interactions"][0]
    rows = json.loads(record["response"]["body"]["string"])
    expected = sum(Decimal(r["delta"]["usdc"]) for r in rows if r["delta"]["coin"] == "APE")
    info = HyperliquidInfo("https://api.hyperliquid.xyz", coin="APE", transport=recorded_transport(name))
    assert info.user_funding_usd("0xb7b6f3cea3f66bf525f5d8f965f6dbf6d9b017b2", 1681923833000, 1682010233000) == expected


def test_golden_l1_signature() -> None:
    """A fixed key, action and nonce sign to exactly these bytes (the SDK's phantom-agent scheme, testnet)."""
    wallet = eth_account.Account.from_key("0x" + "11" * 32)
    action = {"type": "scheduleCancel", "time": 1_800_000_000_000}
    signature = sign_l1_action(wallet, action, None, 1_700_000_000_000, None, False)
    assert signature == GOLDEN_L1_SIGNATURE


GOLDEN_L1_SIGNATURE = {"r": "0x51251497b8cb6a63f510dc4c2ad3d92c4d4741daf7a90cd456e1c8deb956e35b",
                       "s": "0x6f1645af8e1925798251199fe4dc48b1107811dd8c2c5a671810147d33df8341", "v": 28}


def test_prices_round_as_hyperliquid_requires() -> None:
    assert round_price(Decimal("187.123456"), 2) == Decimal("187.12")
    assert round_price(Decimal("12.3456789"), 2) == Decimal("12.346")
    assert round_price(Decimal("0.0123456"), 2) == Decimal("0.0123")


def test_cloids_are_stable_and_distinct_per_step() -> None:
    assert cloid_for("p1", "open") == cloid_for("p1", "open")
    assert len({cloid_for("p1", "open"), cloid_for("p1", "close-0"), cloid_for("p2", "open")}) == 3
    assert cloid_for("p1", "open").startswith("0x") and len(cloid_for("p1", "open")) == 34


def test_nonces_never_repeat_under_threads() -> None:
    nonces = InMemoryNonces(lambda: 1_700_000_000_000)
    seen: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(200):
            value = nonces.next_nonce("0xagent")
            with lock:
                seen.append(value)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == len(set(seen)) == 800


# --- against the simulator ---------------------------------------------------------------------------------


class Vault:
    def __init__(self) -> None:
        self.keys: dict[str, str] = {}

    def store(self, user_id: str, key_hex: str) -> None:
        self.keys[user_id] = key_hex

    def has(self, user_id: str) -> bool:
        return user_id in self.keys

    def load(self, user_id: str) -> str:
        return self.keys[user_id]


class Wallets:
    """The users' own EVM wallets (Privy in production) signing EIP-712."""

    def __init__(self) -> None:
        self.accounts: dict[str, LocalAccount] = {}

    def sign_typed_data(self, user_id: str, typed_data: dict[str, Any]) -> str:
        signed = self.accounts[user_id].sign_message(encode_typed_data(full_message=typed_data))
        return "0x" + bytes(signed.signature).hex()


@pytest.fixture
def venue(sim: RunningSim) -> tuple[HyperliquidShortVenue, Wallets, Vault]:
    wallets, vault = Wallets(), Vault()
    info = HyperliquidInfo(sim.url("hyperliquid"))
    short = HyperliquidShortVenue(sim.url("hyperliquid"), info, vault, lambda uid: wallets.accounts[uid].address,
                                  wallets, InMemoryNonces(lambda: int(time.time() * 1000)))
    return short, wallets, vault


def _user(sim: RunningSim, wallets: Wallets, user_id: str, usdc: str = "5000") -> str:
    account: LocalAccount = eth_account.Account.create()
    wallets.accounts[user_id] = account
    httpx.post(f"{sim.base_url}/sim/hyperliquid/fund", json={"user": account.address, "usdc": usdc})
    return account.address


def test_the_short_leg_opens_once_and_closes(sim: RunningSim, venue: tuple[HyperliquidShortVenue, Wallets, Vault]
                                             ) -> None:
    short, wallets, vault = venue
    address = _user(sim, wallets, "u1")
    fill = short.open_short("u1", "pos-1", Decimal("2.5"))
    assert fill.size_sol == Decimal("2.5") and fill.fees_usd > 0
    assert vault.has("u1")  # the agent key is kept (encrypted in production)
    again = short.open_short("u1", "pos-1", Decimal("2.5"))  # a retried step: the same fill, not a second short
    assert again.size_sol == Decimal("2.5")
    assert short.info.sol_position_size(address) == Decimal("-2.5")
    assert short.find_short("u1", "pos-1") is not None
    pnl = short.close_short("u1", "pos-1", Decimal("2.5"))
    assert pnl < 0  # the round trip pays two taker fees and the spread
    assert short.info.sol_position_size(address) == 0
    assert short.find_short("u1", "pos-1") is None
    assert short.close_short("u1", "pos-1", Decimal("2.5")) == pnl  # closing again reports the same realized PnL


def test_two_positions_share_one_account_and_close_apart(sim: RunningSim,
                                                         venue: tuple[HyperliquidShortVenue, Wallets, Vault]) -> None:
    """Hyperliquid nets an account's positions into one SOL short; closing one buys back only its own size."""
    short, wallets, _ = venue
    address = _user(sim, wallets, "u2", usdc="20000")
    short.open_short("u2", "pos-a", Decimal("3.4"))
    short.open_short("u2", "pos-b", Decimal("5.1"))
    assert short.info.sol_position_size(address) == Decimal("-8.5")
    httpx.post(f"{sim.base_url}/sim/clock", json={"advance_hours": 2})  # two funding payments on 8.5 SOL
    short.close_short("u2", "pos-a", Decimal("3.4"))
    assert short.info.sol_position_size(address) == Decimal("-5.1")  # the other position's short is intact
    assert short.find_short("u2", "pos-a") is None
    other = short.find_short("u2", "pos-b")
    assert other is not None and other.size_sol == Decimal("5.1")
    short.close_short("u2", "pos-a", Decimal("3.4"))  # a retried close buys nothing more
    assert short.info.sol_position_size(address) == Decimal("-5.1")
    # funding: each position's share of every hourly payment, adding up to what the account was paid
    paid = short.info.user_funding_usd(address, 0)
    a = short.funding_usd("u2", "pos-a", datetime.fromtimestamp(0, tz=UTC))
    b = short.funding_usd("u2", "pos-b", datetime.fromtimestamp(0, tz=UTC))
    assert paid != 0 and a + b == paid
    assert abs(a / paid - Decimal("3.4") / Decimal("8.5")) < Decimal("0.0001")
    short.close_short("u2", "pos-b", Decimal("5.1"))
    assert short.info.sol_position_size(address) == 0


def test_a_buy_back_whose_answer_was_lost_is_adopted_not_repeated(
        sim: RunningSim, venue: tuple[HyperliquidShortVenue, Wallets, Vault]) -> None:
    """close_short after an ambiguous order: the position's fills (one userFills read) show the buy-back landed."""
    short, wallets, _ = venue
    address = _user(sim, wallets, "u3")
    short.open_short("u3", "pos-c", Decimal("2"))
    assert httpx.post(f"{sim.base_url}/sim/faults", json={"venue": "hyperliquid", "call": "order",
                                                          "kind": "lose_response", "times": 1}).status_code == 201
    pnl = short.close_short("u3", "pos-c", Decimal("2"))
    assert short.info.sol_position_size(address) == 0
    closes = [f["cloid"] for f in short.info.post({"type": "userFills", "user": address})
              if f["cloid"] != cloid_for("pos-c", "open")]
    assert closes == [cloid_for("pos-c", "close-0")]  # adopted: no second attempt
    assert short.close_short("u3", "pos-c", Decimal("2")) == pnl


def test_the_settle_steps_funding_split_reuses_the_venue_truths_fills_read_until_an_order(
        sim: RunningSim, venue: tuple[HyperliquidShortVenue, Wallets, Vault], monkeypatch: pytest.MonkeyPatch) -> None:
    """The reconciler reads userFills for its venue truth; the funding split of its settle step right after takes
    that read, not a second one; any order drops it (the next split asks again and sees the order's fill)."""
    short, wallets, _ = venue
    address = _user(sim, wallets, "u5")
    short.open_short("u5", "pos-e", Decimal("2"))
    httpx.post(f"{sim.base_url}/sim/clock", json={"advance_hours": 1})
    reads: list[str] = []
    post = short.info.post

    def counting(body: dict[str, Any]) -> Any:
        if body["type"] == "userFills":
            reads.append(body["user"])
        return post(body)

    monkeypatch.setattr(short.info, "post", counting)
    truth = VenueTruthAdapter(short.info, AsgardClient(sim.url("asgard")), lambda uid: {}, lambda uid: None,
                              lambda uid: address)
    since = datetime.fromtimestamp(0, tz=UTC)
    assert truth.venue_truth("u5", ["pos-e"], since).position_shorts == {"pos-e": Decimal("2")}
    funding = short.funding_usd("u5", "pos-e", since)
    assert funding != 0 and reads == [address]  # one userFills read for the venue truth and the split
    short.close_short("u5", "pos-e", Decimal("2"))
    reads.clear()
    assert short.funding_usd("u5", "pos-e", since) == funding  # the close's hour has not been paid yet
    assert reads == []  # close_short's own read after its order is the one kept
    short.info.forget_fills()
    short.funding_usd("u5", "pos-e", since)
    assert reads == [address]


def test_cloids_name_their_position() -> None:
    assert position_key_of(cloid_for("p1", "open")) == position_key_of(cloid_for("p1", "close-2")) == \
        position_key("p1") != position_key("p2")
    assert action_of(cloid_for("p1", "open")) == ACTION_OPEN
    with pytest.raises(ValueError):
        cloid_for("p1", "whatever")


def test_a_short_without_margin_is_refused(sim: RunningSim, venue: tuple[HyperliquidShortVenue, Wallets, Vault]
                                           ) -> None:
    short, wallets, _ = venue
    _user(sim, wallets, "poor", usdc="20")
    with pytest.raises(VenueRejected, match="Insufficient margin"):
        short.open_short("poor", "pos-2", Decimal("5"))


def test_a_wallet_that_hyperliquid_does_not_know_cannot_approve(sim: RunningSim,
                                                                venue: tuple[HyperliquidShortVenue, Wallets, Vault]
                                                                ) -> None:
    short, wallets, _ = venue
    wallets.accounts["ghost"] = eth_account.Account.create()  # never funded: no Hyperliquid account
    with pytest.raises(VenueRejected, match="does not exist"):
        short.open_short("ghost", "pos-3", Decimal("1"))


def test_signature_parts_split_a_65_byte_signature() -> None:
    parts = signature_parts("0x" + "aa" * 32 + "bb" * 32 + "1b")
    assert parts == {"r": "0x" + "aa" * 32, "s": "0x" + "bb" * 32, "v": 27}


def test_golden_approve_agent_signature_matches_the_sdk() -> None:
    """The typed data the adapter builds for approveAgent signs to exactly what the SDK's `sign_agent` gives."""
    from hyperliquid.utils.signing import sign_agent, user_signed_payload

    from dnbot.adapters.hyperliquid.trading import APPROVE_AGENT_TYPES

    user = eth_account.Account.from_key("0x" + "22" * 32)
    action = {"type": "approveAgent", "agentAddress": "0x" + "33" * 20, "agentName": "dnbot",
              "nonce": 1_700_000_000_000, "signatureChainId": "0x66eee", "hyperliquidChain": "Testnet"}
    typed = user_signed_payload("HyperliquidTransaction:ApproveAgent", APPROVE_AGENT_TYPES, action)
    ours = signature_parts("0x" + bytes(user.sign_message(encode_typed_data(full_message=typed)).signature).hex())
    pinned = {"r": "0x262be917b6b586813f80fbcd372f803d838e466826ef10db31738d421ae8366f",
              "s": "0x75ea4f2b933985ca956b8015036baf8c3027c9da67d18d079c365f153b293c0c", "v": 27}
    assert ours == pinned
    sdk_action = {k: action[k] for k in ("type", "agentAddress", "agentName", "nonce")}
    assert sign_agent(user, sdk_action, False) == pinned


def test_funding_quote_parses_the_documented_meta_and_asset_ctxs() -> None:
    """The example response of Hyperliquid's OpenAPI fragment (in the SDK's recordings)."""
    spec = yaml.safe_load((CASSETTES / "api/info/assetctxs.yaml").read_text())
    example = spec["paths"]["/info"]["post"]["responses"]["200"]["content"]["application/json"]["example"]

    def handle(request: httpx.Request) -> httpx.Response:
        kind = json.loads(request.content)["type"]
        return httpx.Response(200, json=example if kind == "metaAndAssetCtxs" else [])

    quote = HyperliquidInfo("https://api.hyperliquid.xyz", transport=httpx.MockTransport(handle), coin="BTC"
                            ).sol_funding()
    assert (quote.funding_hourly, quote.mark_price, quote.oracle_price) == (
        Decimal("-0.0000886"), Decimal("28429.3"), Decimal("28445.0"))
    assert quote.predicted_funding_hourly is None


@pytest.mark.parametrize(("answer", "error"), [
    (httpx.ConnectError("refused"), "TransientVenueError"),
    (httpx.ReadTimeout("no answer"), "AmbiguousVenueError"),
    (httpx.Response(502, text="Bad Gateway"), "AmbiguousVenueError"),
    (httpx.Response(429, text="slow down"), "TransientVenueError"),
    (httpx.Response(200, json={"status": "err", "response": "Order has invalid price."}), "VenueRejected"),
])
def test_exchange_failures_map_to_the_ports_errors(answer: Any, error: str) -> None:
    """Before sending: retry. Sent but unanswered: ambiguous (reconcile by cloid first). Refused: final."""
    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, httpx.Response)
        return answer

    venue = HyperliquidShortVenue("https://api.hyperliquid.xyz", HyperliquidInfo("https://api.hyperliquid.xyz"),
                                  Vault(), lambda uid: "0x" + "44" * 20, Wallets(), InMemoryNonces(lambda: 1),
                                  transport=httpx.MockTransport(handle))
    import dnbot.ports as ports

    with pytest.raises(getattr(ports, error)):
        venue._post_exchange({"action": {"type": "order"}}, places_order=True)


def test_the_dead_man_switch_is_set_and_a_too_early_one_refused(
        sim: RunningSim, venue: tuple[HyperliquidShortVenue, Wallets, Vault]) -> None:
    short, wallets, _ = venue
    _user(sim, wallets, "u-dms")
    short.schedule_cancel("u-dms", int(time.time() * 1000) + 60_000)
    with pytest.raises(VenueRejected, match="too early"):
        short.schedule_cancel("u-dms", int(time.time() * 1000))
