"""The Asgard adapter against `/asgard/margin-trading` (and `/solana`) of the simulator: a long opened, read,
de-risked and closed end to end with a local keypair signer; error mapping; parsing of recorded snapshots."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from solders.keypair import Keypair

from dnbot.adapters.asgard import AsgardClient, markets_from_snapshots, parse_markets
from dnbot.adapters.asgard.venue import AsgardLongVenue, LongMayStillLand
from dnbot.adapters.solana.rpc import SolanaRpc
from dnbot.adapters.solana.signer import LocalKeypairSigner
from dnbot.domain.assets import Asset, Protocol
from dnbot.marketdata.recorded import default_data_dir
from dnbot.ports import AmbiguousVenueError, LongOpenRequest, TransientVenueError, VenueRejected
from dnbot.sim.server import RunningSim
from dnbot.sim.world import Fault, FaultKind


def make_venue(base_url: str, user: str, keypair: Keypair, **client_args: object) -> AsgardLongVenue:
    client = AsgardClient(f"{base_url}/asgard/margin-trading", api_key="test-key", **client_args)  # type: ignore[arg-type]
    return AsgardLongVenue(client, LocalKeypairSigner({user: keypair}), lambda _uid: str(keypair.pubkey()))


def funded_user(base_url: str, usdc: str = "1000", sol: str = "0.2") -> Keypair:
    keypair = Keypair()
    assert httpx.post(f"{base_url}/sim/solana/fund",
                      json={"address": str(keypair.pubkey()), "usdc": usdc, "sol": sol}).status_code == 200
    return keypair


def test_open_health_and_close_a_long_end_to_end(sim: RunningSim) -> None:
    base_url, world = sim.base_url, sim.world
    keypair = funded_user(base_url)
    wallet = str(keypair.pubkey())
    venue = make_venue(base_url, "u1", keypair)
    solana = SolanaRpc(f"{base_url}/solana")

    markets = venue.lending_markets()
    jito_kamino = next(m for m in markets if m.asset is Asset.JITOSOL and m.protocol is Protocol.KAMINO)
    assert jito_kamino.staking_apy > Decimal("0.03") and jito_kamino.usdc_borrow_apy > 0
    sol_price = venue.sol_price_usd()
    assert Decimal(50) < sol_price < Decimal(500)

    fill = venue.open_long(LongOpenRequest("u1", "pos-1", Asset.SOL, int(Protocol.KAMINO), Decimal(400),
                                           Decimal(3)))
    # 400 USDC at 3x: 1200 of SOL less the 5 bps open fee, at the replayed price.
    assert fill.notional_usd == pytest.approx(Decimal("1199.4"), abs=Decimal("0.5"))
    assert fill.fees_usd == pytest.approx(Decimal("0.6"), abs=Decimal("0.01"))
    assert solana.usdc_balance(wallet) == Decimal(600)
    assert solana.sol_balance(wallet) < Decimal("0.2")  # fees and the Jito tip were paid in SOL
    assert venue.find_long("u1", "pos-1") == fill
    assert venue.open_long(LongOpenRequest("u1", "pos-1", Asset.SOL, int(Protocol.KAMINO), Decimal(400),
                                           Decimal(3))) == fill  # idempotent by position id

    health = venue.health("u1", "pos-1")
    assert health is not None and not health.liquidated
    assert health.debt_usdc == pytest.approx(Decimal(800), abs=Decimal("0.01"))
    assert Decimal("0.1") < health.drop_to_liquidation < Decimal("0.5")
    assert health.health_factor is not None and health.health_factor > 1

    world.clock.advance(timedelta(hours=24))  # a day of recorded borrow interest accrues
    later = venue.health("u1", "pos-1")
    assert later is not None and later.debt_usdc > health.debt_usdc
    # whole base units of each mint (SOL 9 decimals, USDC 6), as on chain, not the JSON float's digits
    assert later.size == later.size.quantize(Decimal("1e-9")) and later.size > 0
    assert later.debt_usdc == later.debt_usdc.quantize(Decimal("1e-6"))

    proceeds = venue.close_long("u1", "pos-1")
    assert Decimal(200) < proceeds < Decimal(600)
    assert solana.usdc_balance(wallet) == pytest.approx(Decimal(600) + proceeds, abs=Decimal("0.000001"))
    assert venue.find_long("u1", "pos-1") is None
    assert venue.close_long("u1", "pos-1") == proceeds  # a retry reports the same close, moves nothing
    assert solana.usdc_balance(wallet) == pytest.approx(Decimal(600) + proceeds, abs=Decimal("0.000001"))
    assert venue.close_long("u1", "never-opened") == 0  # closing an absent long is a no-op


def test_deleverage_and_partial_close_on_kamino(sim: RunningSim) -> None:
    base_url = sim.base_url
    keypair = funded_user(base_url)
    venue = make_venue(base_url, "u2", keypair)
    venue.open_long(LongOpenRequest("u2", "pos-2", Asset.SOL, int(Protocol.KAMINO), Decimal(300), Decimal(3)))
    before = venue.health("u2", "pos-2")
    answer = venue.deleverage("u2", "pos-2", Decimal(2))
    assert answer["success"]
    assert Decimal(answer["position"]["leverageCurrent"]) == pytest.approx(Decimal(2), abs=Decimal("0.01"))
    after = venue.health("u2", "pos-2")
    assert before is not None and after is not None and after.drop_to_liquidation > before.drop_to_liquidation
    assert venue.partial_close("u2", "pos-2", Decimal(50))["success"]
    with pytest.raises(VenueRejected, match="UNSUPPORTED_PROTOCOL"):
        venue.open_long(LongOpenRequest("u2", "pos-3", Asset.SOL, int(Protocol.MARGINFI), Decimal(100), Decimal(2)))
        venue.deleverage("u2", "pos-3", Decimal("1.5"))


def test_errors_map_to_transient_rejected_and_ambiguous(sim: RunningSim) -> None:
    base_url, world = sim.base_url, sim.world
    keypair = funded_user(base_url)
    venue = make_venue(base_url, "u4", keypair, timeout_seconds=1.0)
    request = LongOpenRequest("u4", "pos-4", Asset.SOL, int(Protocol.DRIFT), Decimal(100), Decimal(2))

    world.faults.inject(Fault("asgard", "markets", FaultKind.SERVER_ERROR))
    with pytest.raises(TransientVenueError):
        venue.lending_markets()
    world.faults.inject(Fault("asgard", "create-position", FaultKind.REJECT, message="pool paused"))
    with pytest.raises(VenueRejected, match="pool paused"):
        venue.open_long(request)
    with pytest.raises(VenueRejected, match="INVALID_LEVERAGE"):
        venue.open_long(LongOpenRequest("u4", "pos-x", Asset.SOL, int(Protocol.DRIFT), Decimal(100), Decimal(50)))
    venue.solana = SolanaRpc(f"{base_url}/solana")
    world.faults.inject(Fault("asgard", "submit-create-position-tx", FaultKind.SERVER_ERROR))
    with pytest.raises(AmbiguousVenueError):
        venue.open_long(request)  # the 500 came after a signed transaction was sent
    with pytest.raises(LongMayStillLand):  # not listed, unknown on Solana, its blockhash still valid
        venue.find_long("u4", "pos-4")
    world.clock.advance(timedelta(seconds=90))  # past the blockhash's 150 slots: it can no longer land
    assert venue.find_long("u4", "pos-4") is None  # (that 500 was raised before acting)

    world.faults.inject(Fault("asgard", "submit-create-position-tx", FaultKind.LOSE_RESPONSE))
    adopted = venue.open_long(request)  # the answer was lost; the position is found by its signature: adopted
    landed = venue.find_long("u4", "pos-4")  # reconciled by the stored transaction signature
    assert landed is not None and landed.size > 0 and landed == adopted

    world.faults.inject(Fault("asgard", "refresh-positions", FaultKind.TIMEOUT, delay_seconds=1.5))
    with pytest.raises(TransientVenueError):
        venue.health("u4", "pos-4")
    world.faults.inject(Fault("asgard", "submit-close-position-tx", FaultKind.TIMEOUT, delay_seconds=1.5))
    with pytest.raises(AmbiguousVenueError):
        venue.close_long("u4", "pos-4")
    world.faults.inject(Fault("asgard", "submit-close-position-tx", FaultKind.LOSE_RESPONSE))
    paid = venue.close_long("u4", "pos-4")  # the timed-out close had not acted; this one acts, its answer is
    assert paid > Decimal(90)               # lost, and the close is adopted by its stored signature
    assert venue.find_long("u4", "pos-4") is None
    assert venue.close_long("u4", "pos-4") == paid  # a retry reports what the landed close paid out


def test_rate_limit_without_key_is_paced_by_the_client(sim: RunningSim) -> None:
    base_url = sim.base_url
    client = AsgardClient(f"{base_url}/asgard/margin-trading")  # no key: 1 request per second
    started = time.monotonic()
    for _ in range(2):
        client.markets()
    assert time.monotonic() - started >= 0.9


def test_parses_markets_answer_and_recorded_snapshots() -> None:
    root = default_data_dir() / "asgard" / "snapshots_2025-07-30"
    load = lambda name: json.loads((root / name).read_text(encoding="utf-8-sig"))  # noqa: E731
    markets = markets_from_snapshots(load("current-rates.json"), load("current-staking-rates.json"),
                                     load("token_config.json"))
    by_key = {(m.asset, m.protocol): m for m in markets}
    kamino_sol = by_key[(Asset.SOL, Protocol.KAMINO)]
    # Recorded: SOL bank d4A2... lends at 5.7349% and Kamino's main USDC bank D6q6... borrows at 5.5873%.
    assert kamino_sol.supply_apy == pytest.approx(Decimal("0.057348735"), abs=Decimal("1e-9"))
    assert kamino_sol.usdc_borrow_apy == pytest.approx(Decimal("0.055872954"), abs=Decimal("1e-9"))
    assert kamino_sol.max_leverage == Decimal("3.5")
    jito = by_key[(Asset.JITOSOL, Protocol.DRIFT)]
    assert Decimal("0.05") < jito.staking_apy < Decimal("0.12") and jito.usdc_borrow_apy == Decimal("0.082478")
    assert (Asset.SOL, Protocol.SOLEND) not in by_key  # no USDC bank recorded for Solend's main market

    documented = {"strategies": {"SOL/USDC": {
        "tokenAMint": Asset.SOL.token.mint, "tokenBMint": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
        "liquiditySources": [
            {"lendingProtocol": 1, "isActive": True, "marketKey": "Jito 10x Market", "tokenABank": "x",
             "tokenBBank": "y", "longMaxLeverage": 10, "tokenALendingApyRate": 0.09,
             "tokenBBorrowingApyRate": 0.2, "tokenBMaxBorrowCapacity": "5"},
            {"lendingProtocol": 1, "isActive": True, "marketKey": "Main Market", "tokenABank": "a",
             "tokenBBank": "b", "longMaxLeverage": 3.5, "tokenALendingApyRate": 0.05,
             "tokenBBorrowingApyRate": 0.06, "tokenBMaxBorrowCapacity": "1250000.5"},
            {"lendingProtocol": 9, "isActive": True}]}}, "totalStrategies": 1}
    [parsed] = parse_markets(documented)
    assert (parsed.protocol, parsed.supply_apy, parsed.usdc_borrow_apy) == (Protocol.KAMINO, Decimal("0.05"),
                                                                            Decimal("0.06"))
    assert parsed.borrow_capacity_usd == Decimal("1250000.5") and parsed.staking_apy == 0


def test_wallet_from_directory() -> None:
    from dnbot.adapters.asgard.venue import wallet_from_directory
    from dnbot.ports import PrivyWalletRecord

    class Directory:
        def get_wallets(self, user_id: str) -> PrivyWalletRecord | None:
            return PrivyWalletRecord("w1", "SoLaddr", "w2", "0xevm") if user_id == "known" else None

        def put_wallets(self, user_id: str, record: PrivyWalletRecord) -> None:
            raise AssertionError

    wallet_of = wallet_from_directory(Directory())
    assert wallet_of("known") == "SoLaddr"
    with pytest.raises(VenueRejected, match="no Solana wallet"):
        wallet_of("stranger")
