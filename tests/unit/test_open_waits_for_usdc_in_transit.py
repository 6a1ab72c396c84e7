"""The strategy worker opens nothing while the user's USDC is moving between the venues (the close's capital split:
services/capital_balance.py), so the next position is sized on the capital where it lands; a transfer stuck past
an hour, or left to an operator, no longer holds opens back."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from dnbot.domain.bridge import Abandoned, BridgeDirection, BridgeState, BridgeTransfer, advance, new_transfer
from dnbot.services.tick import TickWorker
from tests.unit.fakes import NOW, Clock


class Transfers:
    def __init__(self, *records: BridgeTransfer) -> None:
        self.records = list(records)

    def list_for_user(self, user_id: str) -> list[BridgeTransfer]:
        return [r for r in self.records if r.user_id == user_id]


def _worker(*records: BridgeTransfer) -> TickWorker:
    worker = TickWorker.__new__(TickWorker)
    worker._transfers = Transfers(*records)  # type: ignore[assignment]
    worker._clock = Clock()  # type: ignore[assignment]
    return worker


def _transfer(at: datetime = NOW, position: str = "p1") -> BridgeTransfer:
    return new_transfer(user_id="u1", position_id=position, n=0, direction=BridgeDirection.TO_SHORT,
                        amount_usd=Decimal(900), max_fee=Decimal("0.18"), mint_recipient="0x" + "11" * 20, at=at)


def test_an_open_waits_while_a_transfer_moves() -> None:
    held = _worker(_transfer())._usdc_in_transit("u1")
    assert held is not None and "p1:0:to_short" in held
    assert _worker(_transfer())._usdc_in_transit("someone else") is None


def test_a_finished_stuck_or_flagged_transfer_does_not_hold_opens_back() -> None:
    done = advance(_transfer(), Abandoned("nothing signed"), NOW)
    stale = _transfer(at=NOW - timedelta(hours=2))
    flagged = replace(_transfer(position="p2"), state=BridgeState.NEEDS_ATTENTION)
    assert _worker(done, stale, flagged)._usdc_in_transit("u1") is None
