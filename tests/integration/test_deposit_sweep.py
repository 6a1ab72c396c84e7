"""The deposit sweep against the simulator (Arbitrum node and bridge, Hyperliquid's ledger) with its records on
moto: under the bridge minimum, exactly the minimum, a lost answer, a second run that must not send again, a
wallet without ETH for gas, USDC a bridge transfer is about to burn left on the wallet, and one user swept now."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import boto3
import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from moto import mock_aws

from dnbot import resources
from dnbot.adapters.aws.activity import DynamoActivityLog
from dnbot.adapters.aws.bridge_transfers import DynamoBridgeTransferStore
from dnbot.adapters.aws.deposits import DynamoDepositLedger, wallet_registry_item
from dnbot.adapters.evm.arbitrum import ArbitrumClient
from dnbot.adapters.evm.signer import LocalEvmSigner
from dnbot.adapters.hyperliquid.info import HyperliquidInfo
from dnbot.domain.bridge import (
    Abandoned,
    BridgeDirection,
    BridgeState,
    BridgeTransfer,
    Burned,
    BurnSigned,
    NeedsAttention,
    advance,
    new_transfer,
)
from dnbot.local.cloud import create_state_table
from dnbot.services.deposits import BridgeBurnReservations, DepositSweep, reserved_for_burn_usd
from dnbot.sim.server import start_in_thread
from dnbot.sim.world import Fault, FaultKind, SimWorld

GAS_ETH = "0.001"


@dataclass
class Setup:
    sweep: DepositSweep
    world: SimWorld
    base_url: str
    ledger: DynamoDepositLedger
    activity: DynamoActivityLog
    arbitrum: ArbitrumClient
    hyperliquid: HyperliquidInfo
    accounts: dict[str, LocalAccount]
    table: object
    transfers: DynamoBridgeTransferStore
    reserving: DepositSweep  # the sweep as runtime builds it: bridge burns reserved, one user at a time

    def to_long(self, user_id: str, usdc: str, n: int = 1) -> BridgeTransfer:
        """A planned Arbitrum -> Solana bridge transfer of `usdc` from the user's wallet."""
        record = new_transfer(user_id=user_id, position_id="pos", n=n, direction=BridgeDirection.TO_LONG,
                              amount_usd=Decimal(usdc), max_fee=Decimal(0), mint_recipient="SolanaUsdcAccount",
                              at=self.world.clock.now())
        self.transfers.create(record)
        return record

    def move(self, record: BridgeTransfer, *events: object) -> BridgeTransfer:
        for event in events:
            record = advance(record, event, self.world.clock.now())  # type: ignore[arg-type]
            self.transfers.save(record)
        return record

    def user(self, user_id: str, *, usdc: str = "0", eth: str = GAS_ETH) -> str:
        account = Account.create()
        self.accounts[user_id] = account
        self.table.put_item(Item=wallet_registry_item(user_id, account.address))  # type: ignore[attr-defined]
        self.fund(account.address, usdc=usdc, eth=eth)
        return str(account.address)

    def fund(self, address: str, *, usdc: str = "0", eth: str = "0") -> None:
        reply = httpx.post(f"{self.base_url}/sim/arbitrum/fund", json={"address": address, "usdc": usdc, "eth": eth})
        assert reply.status_code == 200, reply.text

    def margin(self, address: str) -> Decimal:
        return self.hyperliquid.account_value_usd(address)

    def deposits(self, user_id: str) -> list[str]:
        return [e.message for e in self.activity.events(user_id).events if e.kind == "deposit"]


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[SimWorld, str]]:
    world = SimWorld.create()
    server = start_in_thread(world=world)
    yield world, server.base_url
    server.stop()


@pytest.fixture
def setup(running: tuple[SimWorld, str]) -> Iterator[Setup]:
    world, base_url = running
    with mock_aws():
        create_state_table(boto3.client("dynamodb", region_name="us-east-1"))
        table = boto3.resource("dynamodb", region_name="us-east-1").Table(resources.STATE_TABLE.local_name)
        accounts: dict[str, LocalAccount] = {}
        ledger = DynamoDepositLedger(table)
        activity = DynamoActivityLog(table, world.clock.now)
        arbitrum = ArbitrumClient(f"{base_url}/arbitrum", sleep=lambda _: None)
        hyperliquid = HyperliquidInfo(f"{base_url}/hyperliquid")
        signer = LocalEvmSigner(accounts)
        sweep = DepositSweep(ledger, arbitrum, lambda: signer, hyperliquid.deposits_since, activity, world.clock)
        transfers = DynamoBridgeTransferStore(table)
        reserving = DepositSweep(ledger, arbitrum, lambda: signer, hyperliquid.deposits_since, activity, world.clock,
                                 reservations=BridgeBurnReservations(transfers),
                                 address_of=lambda user_id: accounts[user_id].address)
        yield Setup(sweep, world, base_url, ledger, activity, arbitrum, hyperliquid, accounts, table, transfers,
                    reserving)


def test_under_the_minimum_waits_and_is_shown_waiting(setup: Setup) -> None:
    address = setup.user("small", usdc="4.99")
    report = setup.sweep.run()
    assert report.below_minimum == {"small": "4.99"}
    assert "small" not in report.sent
    assert setup.arbitrum.usdc_balance(address) == Decimal("4.99")  # nothing moved, nothing lost
    setup.fund(address, usdc="0.01")  # now exactly the minimum
    report = setup.sweep.run()
    assert "small" in report.sent and report.credited["small"] == "5"
    assert setup.arbitrum.usdc_balance(address) == 0
    assert setup.margin(address) == Decimal(5)
    assert setup.deposits("small") == ["5 USDC arrived on Hyperliquid from your Arbitrum address."]


def test_a_second_run_sends_nothing_more(setup: Setup) -> None:
    address = setup.user("twice", usdc="120.5")
    first = setup.sweep.run()
    assert first.credited["twice"] == "120.5"
    second = setup.sweep.run()
    assert "twice" not in second.sent and "twice" not in second.credited
    assert setup.margin(address) == Decimal("120.5")
    assert len(setup.deposits("twice")) == 1


def test_a_lost_answer_is_followed_up_not_sent_again(setup: Setup) -> None:
    address = setup.user("lost", usdc="50")
    # the node mines the transfer, then the answer never arrives
    setup.world.faults.inject(Fault("arbitrum", "eth_sendRawTransaction", FaultKind.LOSE_RESPONSE))
    report = setup.sweep.run()
    assert "lost" in report.in_flight and "lost" not in report.sent
    record = setup.ledger.open_sweep("lost")
    assert record is not None and record.status == "sent"
    setup.fund(address, usdc="30")  # more arrives meanwhile: it waits for the next sweep, not this one
    report = setup.sweep.run()
    assert report.credited["lost"] == "50"  # the first transfer, found by its receipt
    assert "lost" not in report.sent
    assert setup.margin(address) == Decimal(50)
    report = setup.sweep.run()  # now the 30 that arrived later
    assert report.credited["lost"] == "30" and setup.margin(address) == Decimal(80)


def test_a_send_that_never_reached_the_node_resends_the_same_transaction(setup: Setup) -> None:
    address = setup.user("unsent", usdc="10")
    setup.world.faults.inject(Fault("arbitrum", "eth_sendRawTransaction", FaultKind.SERVER_ERROR))
    report = setup.sweep.run()
    assert "unsent" in report.in_flight
    record = setup.ledger.open_sweep("unsent")
    assert record is not None and setup.arbitrum.receipt_status(record.tx_hash) is None  # the chain never saw it
    report = setup.sweep.run()
    assert report.credited["unsent"] == "10"
    assert setup.arbitrum.receipt_status(record.tx_hash) is True  # the very transaction first signed
    assert setup.margin(address) == Decimal(10)


def test_without_gas_the_sweep_refuses_and_says_how_much_eth(setup: Setup) -> None:
    address = setup.user("dry", usdc="25", eth="0")
    report = setup.sweep.run()
    missing = Decimal(report.needs_gas["dry"])
    assert missing == setup.arbitrum.transfer_gas_reserve_eth(address) > 0
    assert setup.arbitrum.usdc_balance(address) == Decimal(25)
    assert setup.ledger.open_sweep("dry") is None
    setup.fund(address, eth=GAS_ETH)
    report = setup.sweep.run()
    assert report.credited["dry"] == "25"
    assert Decimal(0) < setup.arbitrum.eth_balance(address) < Decimal(GAS_ETH)  # the user's wallet paid the gas


def test_one_users_trouble_does_not_stop_the_others(setup: Setup) -> None:
    setup.user("broken", usdc="10")
    good = setup.user("fine", usdc="10")
    # users are swept in registry order: the first balance read is "broken"'s, and it fails
    setup.world.faults.inject(Fault("arbitrum", "eth_call", FaultKind.SERVER_ERROR))
    report = setup.sweep.run()
    assert set(report.errors) == {"broken"} and report.credited == {"fine": "10"}
    assert setup.margin(good) == Decimal(10)
    assert setup.sweep.run().credited == {"broken": "10"}  # and the next run picks it up


def test_a_user_whose_wallets_predate_the_sweeps_list_is_swept(setup: Setup) -> None:
    """Wallets created before the sweep's list existed: only the user's USER#<id> / WALLETS item. The first run
    lists them (the one-time backfill) and sweeps their deposit; later runs find the backfill done."""
    account = Account.create()
    setup.accounts["early"] = account
    setup.table.put_item(Item={  # type: ignore[attr-defined]
        "pk": "USER#early", "sk": "WALLETS", "type": "wallets", "solana_wallet_id": "sol-w", "solana_address": "So1",
        "evm_wallet_id": "evm-w", "evm_address": account.address})
    setup.fund(account.address, usdc="25", eth=GAS_ETH)
    first = setup.sweep.run()
    assert first.backfilled == 1
    assert first.credited["early"] == "25" and setup.margin(account.address) == Decimal(25)
    second = setup.sweep.run()
    assert second.backfilled is None and "early" not in second.sent


# --- USDC a bridge transfer is about to burn ---------------------------------------------------------------------


def test_the_usdc_a_planned_bridge_burn_needs_stays_on_the_wallet(setup: Setup) -> None:
    """Rule: the sweep moves balance - reserved, and only when that is at least the 5 USDC minimum."""
    address = setup.user("bridging", usdc="45")
    record = setup.to_long("bridging", "40")
    report = setup.reserving.run()
    assert report.reserved["bridging"] == "40" and report.credited["bridging"] == "5"
    assert setup.arbitrum.usdc_balance(address) == Decimal(40) and setup.margin(address) == Decimal(5)
    report = setup.reserving.run()  # nothing above the reservation: nothing sent, nothing shown waiting
    assert "bridging" not in report.sent and "bridging" not in report.below_minimum
    record = setup.move(record, BurnSigned("0x02f8", evm_nonce=0))  # signed, perhaps sent: still reserved
    assert "bridging" not in setup.reserving.run().sent
    assert setup.arbitrum.usdc_balance(address) == Decimal(40)
    setup.move(record, Abandoned("the burn was refused"))  # it can never burn: the USDC is the user's again
    report = setup.reserving.run()
    assert "bridging" not in report.reserved and report.credited["bridging"] == "40"
    assert setup.arbitrum.usdc_balance(address) == 0 and setup.margin(address) == Decimal(45)


def test_less_than_the_minimum_above_a_reservation_waits(setup: Setup) -> None:
    address = setup.user("tight", usdc="44")
    record = setup.to_long("tight", "40")
    report = setup.reserving.run()
    assert report.reserved["tight"] == "40" and report.below_minimum["tight"] == "4"
    assert "tight" not in report.sent and setup.arbitrum.usdc_balance(address) == Decimal(44)
    # only the record moves here (nothing burns on chain): once burned, a transfer holds nothing on the wallet
    setup.move(record, BurnSigned("0x02f8", evm_nonce=0), Burned("0xburn"))
    setup.fund(address, usdc="1")
    report = setup.reserving.run()
    assert "tight" not in report.reserved and report.credited["tight"] == "45"


def test_without_reservations_the_sweep_takes_everything(setup: Setup) -> None:
    address = setup.user("plain", usdc="45")
    setup.to_long("plain", "40")
    assert setup.sweep.run().credited["plain"] == "45"  # the sweep built without them (as before)
    assert setup.arbitrum.usdc_balance(address) == 0


def test_only_arbitrum_burns_not_burned_yet_are_reserved(setup: Setup) -> None:
    at = setup.world.clock.now()

    def transfer(n: int, direction: BridgeDirection, usdc: str) -> BridgeTransfer:
        return new_transfer(user_id="u", position_id="p", n=n, direction=direction, amount_usd=Decimal(usdc),
                            max_fee=Decimal(0), mint_recipient="r", at=at)

    planned = transfer(1, BridgeDirection.TO_LONG, "40")
    signed = advance(transfer(2, BridgeDirection.TO_LONG, "7"), BurnSigned("0x02", evm_nonce=3), at)
    stuck = advance(signed, NeedsAttention("the node is down"), at)  # needs attention, its burn only signed
    burned = advance(advance(transfer(3, BridgeDirection.TO_LONG, "11"), BurnSigned("0x03", evm_nonce=4), at),
                     Burned("0xb"), at)
    abandoned = advance(transfer(4, BridgeDirection.TO_LONG, "13"), Abandoned("refused"), at)
    to_short = transfer(5, BridgeDirection.TO_SHORT, "17")  # minted to the wallet: the sweep's to take
    assert stuck.state is BridgeState.NEEDS_ATTENTION
    assert reserved_for_burn_usd([planned, stuck, burned, abandoned, to_short]) == Decimal(47)
    assert reserved_for_burn_usd([]) == 0


# --- one user now ---------------------------------------------------------------------------------------------


def test_sweep_user_credits_one_users_usdc_now_and_once(setup: Setup) -> None:
    address = setup.user("minted", usdc="39.996")  # a TO_SHORT transfer just minted here
    other = setup.user("bystander", usdc="20")
    report = setup.reserving.sweep_user("minted")
    assert report.credited == {"minted": "39.996"} and setup.margin(address) == Decimal("39.996")
    assert setup.arbitrum.usdc_balance(other) == Decimal(20)  # nobody else is swept
    again = setup.reserving.sweep_user("minted")
    assert not again.sent and not again.credited and setup.margin(address) == Decimal("39.996")
    with pytest.raises(LookupError):
        setup.sweep.sweep_user("minted")  # built without address_of


def test_sweep_user_follows_an_open_sweep_rather_than_sending_another(setup: Setup) -> None:
    address = setup.user("pending", usdc="12")
    setup.world.faults.inject(Fault("arbitrum", "eth_sendRawTransaction", FaultKind.LOSE_RESPONSE))
    assert "pending" in setup.reserving.sweep_user("pending").in_flight
    setup.fund(address, usdc="8")
    report = setup.reserving.sweep_user("pending")
    assert report.credited == {"pending": "12"} and not report.sent  # the open one, found by its receipt
    assert setup.reserving.sweep_user("pending").credited == {"pending": "8"}
    assert setup.margin(address) == Decimal(20)
