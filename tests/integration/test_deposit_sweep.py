"""The deposit sweep against the simulator (Arbitrum node and bridge, Hyperliquid's ledger) with its records on
moto: under the bridge minimum, exactly the minimum, a lost answer, a second run that must not send again, and
a wallet without ETH for gas."""

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
from dnbot.adapters.aws.deposits import DynamoDepositLedger, wallet_registry_item
from dnbot.adapters.evm.arbitrum import ArbitrumClient
from dnbot.adapters.evm.signer import LocalEvmSigner
from dnbot.adapters.hyperliquid.info import HyperliquidInfo
from dnbot.local.cloud import create_state_table
from dnbot.services.deposits import DepositSweep
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
        yield Setup(sweep, world, base_url, ledger, activity, arbitrum, hyperliquid, accounts, table)


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
