"""A close's capital split (services/capital_balance.py) books its fees on the closed position: the realized total
and the fees part of its breakdown take them once per transfer, a rerun books nothing twice, and a crash between
the two writes is completed by the rerun."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.bridge import BridgeDirection, BridgeState, BridgeTransfer, new_transfer
from dnbot.domain.pnl import SOURCES
from dnbot.domain.positions import Position, PositionStatus
from dnbot.services.capital_balance import book_capital_fees, capital_fees_usd, is_capital_transfer
from tests.unit.fakes import NOW, Ledger

D = Decimal
PARTS = {"funding": D("12.40"), "staking": D("0"), "lending": D("3.10"), "borrow": D("-6.20"), "fees": D("-30.05"),
         "price": D("-4.25")}  # -25.00


class Book:
    """PnlBook in memory; `fail_next` makes the next write raise (a Lambda dying between the two writes)."""

    def __init__(self) -> None:
        self.parts = {"p1": dict(PARTS)}
        self.fail_next = False

    def put_realized(self, user_id: str, position_id: str, parts: dict[str, Decimal]) -> None:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the function timed out")
        self.parts[position_id] = dict(parts)

    def realized_of(self, user_id: str) -> dict[str, dict[str, Decimal]]:
        return {k: dict(v) for k, v in self.parts.items()}


def closed() -> Position:
    return Position("p1", "u1", Asset.SOL, Protocol.DRIFT, D(2), D(5000), PositionStatus.CLOSED, NOW, NOW,
                    realized_pnl_usd=D("-25.00"))


def credited(direction: BridgeDirection, amount: str, minted: str, n: int = 0) -> BridgeTransfer:
    planned = new_transfer(user_id="u1", position_id="p1", n=n, direction=direction, amount_usd=D(amount),
                           max_fee=D("0.06"), mint_recipient="recipient", at=NOW)
    return replace(planned, state=BridgeState.CREDITED, minted_usd=D(minted))


@pytest.mark.parametrize(("direction", "amount", "minted", "fees"), [
    (BridgeDirection.TO_LONG, "521.56", "521.50", D("1.06")),  # Hyperliquid's $1 withdraw fee + the Fast fee
    (BridgeDirection.TO_SHORT, "959.19", "959.09", D("0.10")),
])
def test_the_split_s_fees_are_the_closed_position_s_once(direction: BridgeDirection, amount: str, minted: str,
                                                         fees: Decimal) -> None:
    ledger, book = Ledger(closed()), Book()
    record = credited(direction, amount, minted)
    assert is_capital_transfer(record) and capital_fees_usd(record) == fees
    assert book_capital_fees(ledger, book, record, NOW) == D("-25.00") - fees
    position = ledger.items["p1"]
    assert position.realized_pnl_usd == D("-25.00") - fees and position.bridge_booked == record.transfer_id
    assert book.parts["p1"]["fees"] == PARTS["fees"] - fees
    assert sum(book.parts["p1"][name] for name in SOURCES) == position.realized_pnl_usd
    book_capital_fees(ledger, book, record, NOW)  # the step rerun: nothing twice
    assert ledger.items["p1"].realized_pnl_usd == D("-25.00") - fees
    assert book.parts["p1"]["fees"] == PARTS["fees"] - fees


def test_a_crash_between_the_two_writes_is_completed_by_the_rerun() -> None:
    ledger, book = Ledger(closed()), Book()
    record = credited(BridgeDirection.TO_LONG, "521.56", "521.50")
    book.fail_next = True
    with pytest.raises(RuntimeError):
        book_capital_fees(ledger, book, record, NOW)
    assert ledger.items["p1"].realized_pnl_usd == D("-26.06") and book.parts["p1"] == PARTS  # half booked
    assert book_capital_fees(ledger, book, record, NOW) == D("-26.06")
    assert book.parts["p1"]["fees"] == D("-31.11") and ledger.items["p1"].realized_pnl_usd == D("-26.06")


def test_nothing_is_booked_without_a_closed_position_or_before_the_usdc_arrived() -> None:
    ledger, book = Ledger(replace(closed(), status=PositionStatus.OPEN, realized_pnl_usd=None)), Book()
    assert book_capital_fees(ledger, book, credited(BridgeDirection.TO_SHORT, "100", "99.99"), NOW) is None
    assert not is_capital_transfer(credited(BridgeDirection.TO_SHORT, "100", "99.99", n=3))
    ledger = Ledger(closed())
    moving = replace(credited(BridgeDirection.TO_SHORT, "100", "99.99"), state=BridgeState.BURNED, minted_usd=None)
    assert book_capital_fees(ledger, book, moving, NOW) is None and ledger.items["p1"].realized_pnl_usd == D("-25.00")
