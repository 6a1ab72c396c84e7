"""The Asgard venue of the simulator at the wire: real unsigned transactions, signature checks on submit,
balances on the Solana ledger, interest and liquidation on the replayed price path."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from solders.instruction import CompiledInstruction
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.transaction import VersionedTransaction

from dnbot.domain.assets import USDC, Asset
from dnbot.security.transaction_validator import KAMINO_LENDING_PROGRAM, SigningPolicy, validate_transaction
from dnbot.sim import asgard as asgard_sim
from dnbot.sim.solana_ledger import ledger_for
from dnbot.sim.world import SimWorld

KEY = {"X-API-Key": "test"}


@pytest.fixture()
def venue() -> tuple[TestClient, SimWorld]:
    world = SimWorld.create()
    return TestClient(asgard_sim.build_app(world)), world


def sign(tx_base64: str, keypair: Keypair) -> str:
    """Sign as `keypair`, whether or not it is the fee payer (a foreign signature in the payer's slot)."""
    tx = VersionedTransaction.from_bytes(base64.b64decode(tx_base64))
    signature = keypair.sign_message(to_bytes_versioned(tx.message))
    return base64.b64encode(bytes(VersionedTransaction.populate(tx.message, [signature]))).decode()


def kamino_sol(client: TestClient) -> dict[str, Any]:
    sources = client.get("/markets", headers=KEY).json()["strategies"]["SOL/USDC"]["liquiditySources"]
    return next(s for s in sources if s["lendingProtocol"] == 1)


def create(client: TestClient, wallet: Keypair, usdc: int = 100, leverage: float = 3.0,
           source: dict[str, Any] | None = None) -> dict[str, Any]:
    source = source or kamino_sol(client)
    answer = client.post("/create-position", headers=KEY, json={
        "protocol": source["lendingProtocol"], "tokenABank": source["tokenABank"], "tokenBBank": source["tokenBBank"],
        "direction": 0, "collateralType": 1, "collateralAmountNative": usdc * 1_000_000, "collateralMint": USDC.mint,
        "collateralUnitPrice": 1, "leverage": leverage, "jitoTipLamport": 10_000, "slippageBps": 50,
        "walletPubkey": str(wallet.pubkey()), "useDirectRoute": False})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def funded(world: SimWorld, usdc: str = "500") -> Keypair:
    wallet = Keypair()
    ledger_for(world).fund(str(wallet.pubkey()), sol=Decimal("0.1"), usdc=Decimal(usdc))
    return wallet


def test_markets_follow_the_documented_shape_and_the_recorded_rates(venue: tuple[TestClient, SimWorld]) -> None:
    client, world = venue
    body = client.get("/markets", headers=KEY).json()
    assert body["totalStrategies"] == len(body["strategies"]) >= 4
    source = kamino_sol(client)
    recorded = world.market.lending(asgard_sim.Protocol.KAMINO, "usdc", world.clock.now())
    assert recorded is not None and source["tokenBBorrowingApyRate"] == pytest.approx(float(recorded.borrow_apy))
    assert source["longMaxLeverage"] == 3.5 and source["tokenABank"] == "d4A2prbA2whesmvHaL88BH6Ewn5N4bTSU2Ze8P6Bc4Q"


def test_the_built_transaction_is_real_and_passes_the_validator(venue: tuple[TestClient, SimWorld]) -> None:
    client, world = venue
    wallet = funded(world)
    built = create(client, wallet)
    tx = VersionedTransaction.from_bytes(base64.b64decode(built["signedTxs"][0]))
    assert tx.message.account_keys[0] == wallet.pubkey()  # the user pays the fees
    assert ledger_for(world).blockhash_valid(tx.message.recent_blockhash)
    assert KAMINO_LENDING_PROGRAM in tx.message.account_keys
    validate_transaction(tx, SigningPolicy.for_wallet(wallet.pubkey()))


def test_submit_refuses_foreign_tampered_and_replayed_signatures(venue: tuple[TestClient, SimWorld]) -> None:
    client, world = venue
    wallet = funded(world)
    built = create(client, wallet)
    unsigned = built["signedTxs"][0]

    foreign = client.post("/submit-create-position-tx", headers=KEY,
                          json={**built, "signedTxs": [sign(unsigned, Keypair())]})
    assert foreign.status_code == 422 and foreign.json()["error"]["code"] == "SIGNATURE_VERIFICATION_FAILED"

    raw = bytearray(base64.b64decode(sign(unsigned, wallet)))
    raw[5] ^= 0xFF  # flip a bit of the signature
    tampered_signature = client.post("/submit-create-position-tx", headers=KEY,
                                     json={**built, "signedTxs": [base64.b64encode(bytes(raw)).decode()]})
    assert tampered_signature.json()["error"]["code"] == "SIGNATURE_VERIFICATION_FAILED"

    message = VersionedTransaction.from_bytes(base64.b64decode(unsigned)).message
    *kept, tip = message.instructions  # raise the Jito tip, then sign the altered message properly
    bigger_tip = CompiledInstruction(tip.program_id_index, bytes(tip.data)[:4] + (10**9).to_bytes(8, "little"),
                                     bytes(tip.accounts))
    altered = MessageV0(message.header, message.account_keys, message.recent_blockhash, [*kept, bigger_tip], [])
    forged = VersionedTransaction(altered, [wallet])
    mismatch = client.post("/submit-create-position-tx", headers=KEY,
                           json={**built, "signedTxs": [base64.b64encode(bytes(forged)).decode()]})
    assert mismatch.json()["error"]["code"] == "TRANSACTION_MISMATCH"
    assert ledger_for(world).token_ui(str(wallet.pubkey()), USDC.mint) == Decimal(500)  # nothing moved

    good = client.post("/submit-create-position-tx", headers=KEY, json={**built, "signedTxs": [sign(unsigned, wallet)]})
    assert good.status_code == 200 and good.json()["state"] == 0
    assert ledger_for(world).token_ui(str(wallet.pubkey()), USDC.mint) == Decimal(400)
    replay = client.post("/submit-create-position-tx", headers=KEY,
                         json={**built, "signedTxs": [sign(unsigned, wallet)]})
    assert replay.json()["error"]["code"] == "TRANSACTION_MISMATCH"
    assert ledger_for(world).signature_status(good.json()["openTxHash"]) is not None


def test_insufficient_usdc_fails_like_an_onchain_failure(venue: tuple[TestClient, SimWorld]) -> None:
    client, world = venue
    wallet = funded(world, usdc="50")
    built = create(client, wallet, usdc=100)
    answer = client.post("/submit-create-position-tx", headers=KEY,
                         json={**built, "signedTxs": [sign(built["signedTxs"][0], wallet)]})
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert ledger_for(world).balance_lamports(str(wallet.pubkey())) == 100_000_000  # fees were not taken


def test_rate_limit_without_a_key() -> None:
    now = [100.0]
    client = TestClient(asgard_sim.build_app(SimWorld.create(), limiter=asgard_sim.RateLimiter(
        monotonic=lambda: now[0])))
    assert client.get("/markets").status_code == 200
    now[0] += 0.5
    limited = client.get("/markets")
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "RATE_LIMITED"
    assert client.get("/markets", headers=KEY).status_code == 200  # a key lifts the public limit
    now[0] += 1.0
    assert client.get("/markets").status_code == 200


def test_interest_accrues_hourly_and_a_drop_liquidates_on_the_recorded_low() -> None:
    # A still clock at an instant whose position meets the edge case: the recorded low of 2026-12-04 01:00 breaks
    # the position only with its accrued interest (1.00005 x the debt without it).
    world = SimWorld.create(start=datetime(2026, 12, 1, 21, 13, 5, tzinfo=UTC), speed=0)
    client = TestClient(asgard_sim.build_app(world))
    sim: asgard_sim.AsgardSim = client.app.state.asgard  # type: ignore[attr-defined]
    wallet = funded(world)
    drift = next(s for s in client.get("/markets", headers=KEY).json()["strategies"]["SOL/USDC"]["liquiditySources"]
                 if s["lendingProtocol"] == 3)
    built = create(client, wallet, usdc=200, leverage=drift["longMaxLeverage"], source=drift)
    record = client.post("/submit-create-position-tx", headers=KEY,
                         json={**built, "signedTxs": [sign(built["signedTxs"][0], wallet)]}).json()
    position = sim.positions[record["positionPda"]]
    size, debt = position.size, position.debt
    threshold = position.market.liquidation_threshold
    start = position.accrued_to

    def first_breaking_hour() -> datetime:
        # The first hour whose recorded low breaks size x low x LT >= debt, both compounded hourly at the
        # venue's rates up to and including that hour.
        grown_size, grown_debt = size, debt
        for k in range(24 * 200):
            at = start + timedelta(hours=k)
            supply_apy, _ = sim.asset_rates(position.market, at)
            grown_size *= 1 + supply_apy / 8760
            grown_debt *= 1 + sim.usdc_borrow_apy(position.market, at) / 8760
            if grown_size * world.market.candle(at).low * threshold < grown_debt:
                return at
        raise AssertionError("no recorded low breaks the position")

    hour = first_breaking_hour()
    before = hour - start
    world.clock.advance(before - (world.clock.now() - start) - timedelta(minutes=1))
    refreshed = client.post("/refresh-positions", headers=KEY, json={"positionPDAs": [
        {"protocol": 3, "positionPDA": position.pda}]}).json()["positions"][position.pda]
    assert refreshed["liquidationEvents"] == [] and refreshed["summary"]["healthFactor"] > 0
    balances = refreshed["summary"]["booksAndBalances"]["balances"]
    assert balances[1][drift["tokenBBank"]]["liabsQt"] > float(debt)  # interest accrued hour by hour
    world.clock.advance(timedelta(hours=2))
    after = client.post("/refresh-positions", headers=KEY, json={"positionPDAs": [
        {"protocol": 3, "positionPDA": position.pda}]}).json()["positions"][position.pda]
    [event] = after["liquidationEvents"]
    assert event["timestamp"].startswith(hour.isoformat()[:13])
    assert after["summary"]["booksAndBalances"]["balances"][1][drift["tokenBBank"]]["liabsQt"] == 0
    assert Asset.SOL.token.mint == event["tokenAMint"]


def test_partial_fill_opens_only_part_and_takes_only_that_collateral(venue: tuple[TestClient, SimWorld]) -> None:
    from dnbot.sim.world import Fault, FaultKind

    client, world = venue
    wallet = funded(world)
    built = create(client, wallet, usdc=100)
    world.faults.inject(Fault("asgard", "submit-create-position-tx", FaultKind.PARTIAL_FILL,
                              fill_fraction=Decimal("0.25")))
    record = client.post("/submit-create-position-tx", headers=KEY,
                         json={**built, "signedTxs": [sign(built["signedTxs"][0], wallet)]}).json()
    assert Decimal(record["tokenAAmountUIEntry"]) == pytest.approx(
        Decimal(str(built["estimatedTokenAAmountUI"])) / 4, rel=Decimal("0.001"))
    assert ledger_for(world).token_ui(str(wallet.pubkey()), USDC.mint) == Decimal(475)


def test_each_module_creates_its_venue_for_the_server() -> None:
    pytest.importorskip("dnbot.sim.venue")  # engineer HL's SimVenue
    from dnbot.sim import arbitrum, solana_rpc

    world = SimWorld.create()
    venues = {m.__name__: m.create_venue(world) for m in (asgard_sim, solana_rpc, arbitrum)}
    assert [v.prefix for v in venues.values()] == ["/asgard/margin-trading", "/solana", "/arbitrum"]
    assert all(v.control is not None for v in venues.values())


def test_position_queries_and_token_metadata(venue: tuple[TestClient, SimWorld]) -> None:
    client, world = venue
    wallet = funded(world)
    built = create(client, wallet)
    record = client.post("/submit-create-position-tx", headers=KEY,
                         json={**built, "signedTxs": [sign(built["signedTxs"][0], wallet)]}).json()
    body = {"walletPubkey": str(wallet.pubkey())}
    assert [p["positionPda"] for p in client.post("/positions/open", headers=KEY, json=body).json()] == [
        record["positionPda"]]
    assert client.post("/positions/closed", headers=KEY, json=body).json() == []
    by_pda = client.post(f"/positions/by-pda?pda={record['positionPda']}", headers=KEY).json()
    assert by_pda["openTxHash"] == record["openTxHash"] and by_pda["ownerAddress"] == str(wallet.pubkey())
    assert client.post("/positions/by-pda?pda=unknown", headers=KEY).status_code == 404
    sol = client.get(f"/token-metadata/{Asset.SOL.token.mint}", headers=KEY).json()
    assert sol["price"] == pytest.approx(float(world.market.sol_price(world.clock.now())), rel=1e-3)
    jito = client.get(f"/token-metadata/{Asset.JITOSOL.token.mint}", headers=KEY).json()
    assert jito["price"] >= sol["price"]  # the LST/SOL rate starts at 1 and only accrues
    bad = client.post("/create-position", headers=KEY, json={"protocol": 1})
    assert bad.status_code == 422 and bad.json()["error"]["name"] == "ValidationError"
