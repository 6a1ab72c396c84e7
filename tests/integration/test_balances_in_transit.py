"""GET /api/v1/balances lists the USDC on its way between the venues (a CCTP transfer moving or stuck), so the
money gone from one balance and not yet in the other does not seem to vanish: each transfer in the trader's words,
since when, whether it is overdue, and the USDC in no balance. Through the running API on moto, records written
by the real transfer store one step at a time, as BridgeService writes them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from dnbot.domain.bridge import (
    OVERDUE_REPORTED,
    Abandoned,
    Attested,
    BridgeDirection,
    BridgeEvent,
    BridgeTransfer,
    Burned,
    BurnSigned,
    Credited,
    Minted,
    NeedsAttention,
    advance,
    new_transfer,
)
from dnbot.local.system import LocalSystem
from tests.integration.helpers import Client, Terminal, log_in

pytestmark = pytest.mark.xdist_group("moto")
D = Decimal
TO_SHORT, TO_LONG = BridgeDirection.TO_SHORT, BridgeDirection.TO_LONG
NONCE = "0x" + "ab" * 32
MESSAGE = "0x" + "00000001" * 40
ATTESTATION = "0x" + "11" * 130


def _signed(direction: BridgeDirection) -> BurnSigned:
    if direction is TO_SHORT:
        return BurnSigned("AQID-signed", event_account="Ev1111")
    return BurnSigned("0xf86c-signed", evm_nonce=7)


def _transfer(system: LocalSystem, user_id: str, position_id: str, direction: BridgeDirection, amount: str,
              created: datetime, events: list[tuple[BridgeEvent, datetime]]) -> BridgeTransfer:
    """A record created at `created` (max fee 0.1 % of the amount) and saved after each event, as the service
    does."""
    assert system.runtime is not None
    store = system.runtime.bridge_transfers
    record = new_transfer(user_id=user_id, position_id=position_id, n=0, direction=direction, amount_usd=D(amount),
                          max_fee=D(amount) / 1000, mint_recipient="0x" + "22" * 20 if direction is TO_SHORT
                          else "So1UsdcAta", at=created)
    store.create(record)
    for event, at in events:
        record = advance(record, event, at)
        store.save(record)
    return record


def _user_id(client: Client) -> str:
    return str(client.get("/api/v1/auth/me").json()["user"]["user_id"])


def test_balances_list_the_transfers_on_their_way_and_the_usdc_in_transit(system: LocalSystem,
                                                                          terminal: Terminal) -> None:
    carol = log_in(system, terminal, f"carol-{uuid.uuid4().hex[:8]}@example.com")
    empty = carol.get("/api/v1/balances").json()
    assert empty["transfers"] == [] and D(empty["in_transit_usd"]) == 0

    user = _user_id(carol)
    assert system.runtime is not None
    now = system.runtime.clock.now()
    m = timedelta(minutes=1)

    def at(minutes_ago: int) -> datetime:
        return now - minutes_ago * m

    def burned(direction: BridgeDirection, minutes_ago: int) -> list[tuple[BridgeEvent, datetime]]:
        return [(_signed(direction), at(minutes_ago + 1)), (Burned("tx-burn"), at(minutes_ago))]

    attested = (Attested(MESSAGE, ATTESTATION, NONCE, D("0.05")), at(2))
    # moving or stuck: listed
    _transfer(system, user, "signing", TO_SHORT, "100", at(1), [(_signed(TO_SHORT), at(1))])
    _transfer(system, user, "fresh", TO_LONG, "200", at(6), burned(TO_LONG, 5))
    _transfer(system, user, "late", TO_SHORT, "300", at(41), [*burned(TO_SHORT, 40), attested])
    _transfer(system, user, "minted", TO_SHORT, "400", at(9), [*burned(TO_SHORT, 8), attested,
                                                                (Minted("tx-mint", D("399.95")), at(1))])
    _transfer(system, user, "stuck", TO_LONG, "500", at(121), [
        *burned(TO_LONG, 120), (NeedsAttention(f"{OVERDUE_REPORTED}: not credited since its burn"), at(3))])
    # done, or nothing moved: not listed
    _transfer(system, user, "credited", TO_SHORT, "600", at(50), [
        *burned(TO_SHORT, 49), attested, (Minted("tx-mint", D("599.95")), at(2)), (Credited(), at(1))])
    _transfer(system, user, "abandoned", TO_LONG, "700", at(30), [(_signed(TO_LONG), at(29)),
                                                                  (Abandoned("blockhash expired"), at(20))])
    _transfer(system, user, "planned", TO_SHORT, "800", at(2), [])
    _transfer(system, user, "unsigned", TO_SHORT, "900", at(70), [(NeedsAttention("privy refused"), at(60))])

    body = carol.get("/api/v1/balances").json()
    shown = {t["transfer_id"].split(":")[0]: t for t in body["transfers"]}
    assert [t["transfer_id"].split(":")[0] for t in body["transfers"]] == ["stuck", "late", "minted", "fresh",
                                                                           "signing"]  # oldest first
    assert {k: (t["source"], t["destination"], t["direction"]) for k, t in shown.items()} == {
        "signing": ("Solana wallet", "Hyperliquid", "to_short"), "fresh": ("Hyperliquid", "Solana wallet", "to_long"),
        "late": ("Solana wallet", "Hyperliquid", "to_short"), "minted": ("Solana wallet", "Hyperliquid", "to_short"),
        "stuck": ("Hyperliquid", "Solana wallet", "to_long")}
    assert {k: (t["state"], t["stage"]) for k, t in shown.items()} == {
        "signing": ("burn_signed", "burn_signed"), "fresh": ("burned", "burned"), "late": ("attested", "attested"),
        "minted": ("minted", "minted"), "stuck": ("needs_attention", "burned")}
    assert {k: (D(t["amount_usd"]), D(t["arriving_usd"])) for k, t in shown.items()} == {
        "signing": (D(100), D("99.9")), "fresh": (D(200), D("199.8")), "late": (D(300), D("299.95")),
        "minted": (D(400), D("399.95")), "stuck": (D(500), D("499.5"))}
    # since: the burn, else the record (a burn signed a minute ago has not landed yet)
    assert {k: datetime.fromisoformat(t["since"]) for k, t in shown.items()} == {
        "signing": at(1), "fresh": at(5), "late": at(40), "minted": at(8), "stuck": at(120)}
    assert {k: (t["overdue"], t["operator_alerted"]) for k, t in shown.items()} == {
        "signing": (False, False), "fresh": (False, False), "late": (True, False), "minted": (False, False),
        "stuck": (True, True)}
    # in no balance: every amount until minted (a minted one is in the destination wallet, counted above)
    assert D(body["in_transit_usd"]) == D(100 + 200 + 300 + 500)
    assert set(body) == {"solana", "evm", "hyperliquid", "transfers", "in_transit_usd"}

    dave = log_in(system, terminal, f"dave-{uuid.uuid4().hex[:8]}@example.com")  # another user's: not his
    assert dave.get("/api/v1/balances").json()["transfers"] == []
