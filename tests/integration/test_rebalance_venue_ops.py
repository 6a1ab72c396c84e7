"""The venue operations a bridge rebalance takes, each through its production adapter against the simulator with
the user's Privy wallets: Hyperliquid margin out to the account's own Arbitrum wallet (HyperliquidMarginOut) and
Asgard's debt repayment from the Solana wallet (AsgardLongVenue.repay_debt_once). Each moves the money once: a
retry, a lost answer and a submit that never reached the chain never pay twice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from dnbot.adapters.asgard import AsgardClient
from dnbot.adapters.asgard.venue import AsgardLongVenue, LongMayStillLand
from dnbot.adapters.hyperliquid.info import HyperliquidInfo
from dnbot.adapters.hyperliquid.withdrawal import HyperliquidMarginOut, send_withdraw3, sign_withdraw3
from dnbot.adapters.privy.wallets import PrivyWallets
from dnbot.adapters.solana.rpc import SolanaRpc
from dnbot.domain.assets import USDC, Asset, Protocol
from dnbot.ports import LongDeleverager, LongOpenRequest, MarginOut, TransientVenueError, VenueRejected
from dnbot.sim.arbitrum import ledger_for as arbitrum_ledger
from dnbot.sim.server import RunningSim
from dnbot.sim.solana_ledger import ledger_for as solana_ledger
from dnbot.sim.world import Fault, FaultKind
from tests.integration.helpers import sim_with_privy_wallets

APP_ID, APP_SECRET = "cm-sim-rebalance-ops-01", "sim-secret-rebalance-ops"


@dataclass
class System:
    sim: RunningSim
    wallets: PrivyWallets
    info: HyperliquidInfo
    margin_out: HyperliquidMarginOut
    long: AsgardLongVenue

    def evm(self, user_id: str) -> str:
        return self.wallets.wallet_record(user_id).evm_address

    def solana(self, user_id: str) -> str:
        return self.wallets.wallet_record(user_id).solana_address

    def hyperliquid_user(self, user_id: str, usdc: str) -> str:
        address = self.evm(user_id)
        assert httpx.post(f"{self.sim.base_url}/sim/hyperliquid/fund",
                          json={"user": address, "usdc": usdc}).status_code == 200
        return address

    def arbitrum_usdc(self, address: str) -> Decimal:
        return arbitrum_ledger(self.sim.world).usdc_ui(address)

    def solana_usdc(self, user_id: str) -> Decimal:
        return solana_ledger(self.sim.world).token_ui(self.solana(user_id), USDC.mint)

    def long_user(self, user_id: str, position_id: str, *, usdc: str) -> None:
        """A Kamino SOL long of 200 USDC at 3x (debt about 400 USDC), the rest of `usdc` left in the wallet."""
        assert httpx.post(f"{self.sim.base_url}/sim/solana/fund", json={
            "address": self.solana(user_id), "sol": "1", "usdc": usdc}).status_code == 200
        self.long.open_long(LongOpenRequest(user_id, position_id, Asset.SOL, int(Protocol.KAMINO), Decimal(200),
                                            Decimal(3)))

    def fault(self, venue: str, call: str, kind: FaultKind) -> None:
        self.sim.world.faults.inject(Fault(venue, call, kind))


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    with sim_with_privy_wallets(APP_ID, APP_SECRET) as (sim, _client, wallets):
        info = HyperliquidInfo(f"{sim.base_url}/hyperliquid")
        rpc = SolanaRpc(f"{sim.base_url}/solana")

        def evm_of(user_id: str) -> str:
            return wallets.wallet_record(user_id).evm_address

        def solana_of(user_id: str) -> str:
            return wallets.wallet_record(user_id).solana_address

        margin_out = HyperliquidMarginOut(f"{sim.base_url}/hyperliquid", lambda: wallets, evm_of, info)
        long = AsgardLongVenue(AsgardClient(f"{sim.base_url}/asgard/margin-trading", api_key="k"), wallets,
                               solana_of, solana=rpc)
        yield System(sim, wallets, info, margin_out, long)
        rpc.close()
        info.close()


def _now_ms() -> int:
    return int(time.time() * 1000)  # Hyperliquid's nonce window is the wall clock's


# --- Hyperliquid margin -> the account's own Arbitrum wallet ---------------------------------------------------


def test_margin_out_pays_the_accounts_own_wallet_less_the_fee_once(system: System) -> None:
    margin_out: MarginOut = system.margin_out  # the port it implements
    address = system.hyperliquid_user("out", "100")
    assert margin_out.withdrawable_usd("out") == Decimal(100)
    nonce = _now_ms()
    reference = margin_out.withdraw_to_own_wallet("out", Decimal("30"), nonce)
    assert reference == f"withdraw3:{address.lower()}:{nonce}"
    assert system.info.account_value_usd(address) == Decimal(70)
    assert system.arbitrum_usdc(address) == Decimal(29)  # Hyperliquid keeps its $1
    assert system.margin_out.withdrawn_with_nonce("out", nonce) == Decimal(29)

    assert margin_out.withdraw_to_own_wallet("out", Decimal("30"), nonce) == reference  # a retry: listed, not sent
    assert system.info.account_value_usd(address) == Decimal(70) and system.arbitrum_usdc(address) == Decimal(29)
    # the very same signed action sent again (a retry before the ledger lists it): "duplicate nonce", no payment
    resent = sign_withdraw3(system.wallets, "out", address, Decimal("30"), nonce, mainnet=False)
    with httpx.Client(base_url=f"{system.sim.base_url}/hyperliquid") as http:
        assert send_withdraw3(http, resent) == reference
    assert system.info.account_value_usd(address) == Decimal(70) and system.arbitrum_usdc(address) == Decimal(29)

    later = _now_ms() + 1  # another rebalance, another nonce: a second withdrawal
    margin_out.withdraw_to_own_wallet("out", Decimal("10.5"), later)
    assert system.info.account_value_usd(address) == Decimal("59.5")
    assert system.arbitrum_usdc(address) == Decimal("38.5")


def test_a_lost_answer_is_found_landed_and_not_paid_again(system: System) -> None:
    address = system.hyperliquid_user("lost-out", "50")
    nonce = _now_ms()
    system.fault("hyperliquid", "withdraw3", FaultKind.LOSE_RESPONSE)  # Hyperliquid pays, the answer is lost
    with pytest.raises(TransientVenueError):
        system.margin_out.withdraw_to_own_wallet("lost-out", Decimal("20"), nonce)
    assert system.info.account_value_usd(address) == Decimal(30)
    system.margin_out.withdraw_to_own_wallet("lost-out", Decimal("20"), nonce)  # the step's retry
    assert system.info.account_value_usd(address) == Decimal(30)
    assert system.arbitrum_usdc(address) == Decimal(19)


def test_a_withdrawal_that_never_reached_hyperliquid_is_sent_on_retry(system: System) -> None:
    address = system.hyperliquid_user("unsent-out", "40")
    nonce = _now_ms()
    system.fault("hyperliquid", "withdraw3", FaultKind.SERVER_ERROR)
    with pytest.raises(TransientVenueError):
        system.margin_out.withdraw_to_own_wallet("unsent-out", Decimal("15"), nonce)
    assert system.info.account_value_usd(address) == Decimal(40)  # nothing happened
    system.margin_out.withdraw_to_own_wallet("unsent-out", Decimal("15"), nonce)
    assert system.info.account_value_usd(address) == Decimal(25) and system.arbitrum_usdc(address) == Decimal(14)


def test_margin_out_refuses_what_it_cannot_pay(system: System) -> None:
    address = system.hyperliquid_user("poor", "10")
    with pytest.raises(VenueRejected, match="fee"):
        system.margin_out.withdraw_to_own_wallet("poor", Decimal(1), _now_ms())  # all of it would be the fee
    with pytest.raises(VenueRejected, match="micro-USDC"):
        system.margin_out.withdraw_to_own_wallet("poor", Decimal("5.0000001"), _now_ms())
    with pytest.raises(VenueRejected, match="Insufficient balance"):
        system.margin_out.withdraw_to_own_wallet("poor", Decimal(11), _now_ms())
    assert system.info.account_value_usd(address) == Decimal(10) and system.arbitrum_usdc(address) == 0


# --- Asgard: the bridged USDC repays the long's debt, once ----------------------------------------------------


def test_repay_debt_lowers_the_debt_by_the_usdc_once(system: System) -> None:
    long: LongDeleverager = system.long  # the port it implements
    system.long_user("repay", "p1", usdc="300")
    before = long.long_state("repay", "p1")
    health_before = system.long.health("repay", "p1")
    assert before is not None and health_before is not None and before.debt_usd > 300
    wallet = system.solana_usdc("repay")

    after = long.repay_debt_once("repay", "p1", Decimal("40"), updates_before=before.update_count)
    assert after.debt_usd == before.debt_usd - 40
    assert after.size == before.size  # no swap: the long's SOL, and so the hedge, stay
    assert after.update_count == before.update_count + 1
    assert system.solana_usdc("repay") == wallet - 40
    health_after = system.long.health("repay", "p1")
    assert health_after is not None and health_before.health_factor is not None
    assert health_after.health_factor is not None and health_after.health_factor > health_before.health_factor
    assert health_after.drop_to_liquidation > health_before.drop_to_liquidation

    again = long.repay_debt_once("repay", "p1", Decimal("40"), updates_before=before.update_count)  # a retry
    assert again.debt_usd == after.debt_usd and again.update_count == after.update_count
    assert system.solana_usdc("repay") == wallet - 40


def test_a_lost_repay_answer_is_resolved_without_repaying_twice(system: System) -> None:
    system.long_user("lost-repay", "p2", usdc="300")
    before = system.long.long_state("lost-repay", "p2")
    assert before is not None
    wallet = system.solana_usdc("lost-repay")
    system.fault("asgard", "submit-position-update-tx", FaultKind.LOSE_RESPONSE)  # it lands, the answer is lost
    after = system.long.repay_debt_once("lost-repay", "p2", Decimal("25"), updates_before=before.update_count)
    assert after.debt_usd == before.debt_usd - 25 and after.update_count == before.update_count + 1
    again = system.long.repay_debt_once("lost-repay", "p2", Decimal("25"), updates_before=before.update_count)
    assert again.debt_usd == after.debt_usd
    assert system.solana_usdc("lost-repay") == wallet - 25
    reference = system.long.references.get_reference("lost-repay", "p2")
    assert reference is not None and reference.update_signature is None  # nothing left to wait for


def test_a_repay_that_may_still_land_is_waited_for_not_signed_again(system: System) -> None:
    system.long_user("pending", "p3", usdc="300")
    before = system.long.long_state("pending", "p3")
    assert before is not None
    wallet = system.solana_usdc("pending")
    # Asgard answers 500 without submitting: the signed repayment is unknown to the chain but could still be sent
    system.fault("asgard", "submit-position-update-tx", FaultKind.SERVER_ERROR)
    with pytest.raises(LongMayStillLand):
        system.long.repay_debt_once("pending", "p3", Decimal("30"), updates_before=before.update_count)
    with pytest.raises(LongMayStillLand):  # while its blockhash is valid, the retry signs nothing new
        system.long.repay_debt_once("pending", "p3", Decimal("30"), updates_before=before.update_count)
    assert system.solana_usdc("pending") == wallet
    state = system.long.long_state("pending", "p3")
    assert state is not None and state.update_count == before.update_count

    system.sim.world.clock.advance(timedelta(seconds=61))  # 150 slots later its blockhash expired: it cannot land
    after = system.long.repay_debt_once("pending", "p3", Decimal("30"), updates_before=before.update_count)
    assert after.update_count == before.update_count + 1
    assert before.debt_usd - 30 <= after.debt_usd < before.debt_usd - 29  # 61 s of borrow interest at most
    assert system.solana_usdc("pending") == wallet - 30


def test_repay_debt_refuses_nonsense_and_more_than_the_debt(system: System) -> None:
    system.long_user("bad", "p4", usdc="250")
    before = system.long.long_state("bad", "p4")
    assert before is not None
    with pytest.raises(VenueRejected, match="micro-USDC"):
        system.long.repay_debt_once("bad", "p4", Decimal("0"), updates_before=before.update_count)
    with pytest.raises(VenueRejected, match="exceeds the position's debt"):
        system.long.repay_debt_once("bad", "p4", before.debt_usd + 1, updates_before=before.update_count)
    with pytest.raises(VenueRejected, match="no open Asgard long"):
        system.long.repay_debt_once("bad", "nope", Decimal(10), updates_before=0)
    reference = system.long.references.get_reference("bad", "p4")
    assert reference is not None and reference.update_signature is None  # a refused build leaves nothing to wait for
    after = system.long.repay_debt_once("bad", "p4", Decimal(10), updates_before=before.update_count)
    assert after.debt_usd == before.debt_usd - 10
