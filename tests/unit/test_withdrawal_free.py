"""What is free to withdraw: the figure the dashboard shows (GET /withdrawals/free) and the one a request is checked
against are the same rule. Figures by hand: account value A = 1500.127, a 20 SOL short at 150 with its liquidation
at 225.00635 (maintenance rate 0: (A + S P) / (S p*) = 1), the position's rebalance target 21.6% -> the short needs
0.216 x 150 x 20 = 648 USDC, so 852.127 is spare: 852.12 to the cent, down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Leg, Position, PositionStatus
from dnbot.domain.risk import RiskReadings
from dnbot.domain.withdrawals import Withdrawal
from dnbot.ports import Balances, ShortMargin, TransientVenueError, UserRecord
from dnbot.services.errors import ServiceError
from dnbot.services.withdrawals import FreeAmount, WithdrawalService

D = Decimal
NOW = datetime(2026, 1, 1, tzinfo=UTC)
USER = UserRecord("u1", "u1@example.com", NOW, solana_address="S" * 44, evm_address="0x" + "11" * 20)
PAYEE = "0x" + "ab" * 20
MARGIN = ShortMargin(account_value_usd=D("1500.127"), short_sol=D(20), price_usd=D(150),
                     liquidation_price_usd=D("225.00635"))


def _position(status: PositionStatus = PositionStatus.OPEN) -> Position:
    long_leg = Leg("asgard", D(20), D(150), D(3000), D(0), "pda")
    short_leg = Leg("hyperliquid", D(20), D(150), D(3000), D(0), "oid")
    return Position("p1", "u1", Asset.SOL, Protocol.DRIFT, D(3), D(3000), status, NOW - timedelta(hours=1), NOW,
                    long_leg=long_leg, short_leg=short_leg)


@dataclass(frozen=True)
class Allowed:
    allowed: bool = True
    retry_after_seconds: int = 0


class _Fakes:
    def __init__(self, positions: list[Position], withdrawable: Decimal, *, margin_down: bool = False,
                 balances: Balances | None = None) -> None:
        self.positions = positions
        self.withdrawable = withdrawable
        self.margin_down = margin_down
        self.withdrawable_down = False
        self.wallet = balances or Balances(D("1.5"), D("40.25"), None, None)
        self.created: list[Withdrawal] = []

    # PositionStore / BalanceReader / RiskReader / the rest, as far as these calls go
    def list_positions(self, user_id: str) -> list[Position]:
        return self.positions

    def balances(self, user: UserRecord) -> Balances:
        return self.wallet

    def readings(self, position: Position) -> RiskReadings:
        return RiskReadings(liquidation_distance_at_open=D("0.216"))

    def withdrawable_of(self, address: str) -> Decimal:
        if self.withdrawable_down:
            raise TransientVenueError("hyperliquid: timeout")
        return self.withdrawable

    def margin(self, address: str) -> ShortMargin:
        if self.margin_down:
            raise TransientVenueError("hyperliquid: 502")
        return MARGIN

    def hit(self, scope: str, key: str, limit: int, window: timedelta) -> Allowed:
        return Allowed()

    def create_withdrawal(self, withdrawal: Withdrawal) -> None:
        self.created.append(withdrawal)

    def put_expiring(self, *args: Any) -> None: ...

    def send_withdrawal_code(self, *args: Any) -> None: ...

    def start_withdrawal(self, withdrawal: Withdrawal) -> None: ...

    def valid_address(self, address: str) -> bool:
        return True

    def now(self) -> datetime:
        return NOW

    def service(self) -> WithdrawalService:
        return WithdrawalService(self, self, self, self, self, self, self, self, self, self,  # type: ignore[arg-type]
                                 hyperliquid_withdrawable=self.withdrawable_of,
                                 hyperliquid_margin=self.margin, risk=self)


def test_an_open_short_keeps_its_rebalance_distance_and_requests_are_checked_against_the_same_figure() -> None:
    fakes = _Fakes([_position()], withdrawable=D("1200.5"))
    service = fakes.service()
    free = service.free_amount(USER, "USDC", "hyperliquid")
    assert free == FreeAmount(D("852.12"), "keeps your open short 21.6% from liquidation")
    with pytest.raises(ServiceError) as refused:
        service.request(USER, "USDC", D("852.13"), PAYEE, source="hyperliquid")
    assert refused.value.code == "insufficient_funds"
    assert str(refused.value) == ("Only 852.12 USDC is free to withdraw from Hyperliquid: the rest keeps your open "
                                  "short 21.6% from liquidation.")
    assert fakes.created == []
    service.request(USER, "USDC", D("852.12"), PAYEE, source="hyperliquid")
    assert [w.amount for w in fakes.created] == [D("852.12")]


def test_the_venues_withdrawable_when_it_is_the_smaller_or_there_is_no_short() -> None:
    assert _Fakes([_position()], withdrawable=D("500.5")).service().free_amount(USER, "USDC", "hyperliquid") \
        == FreeAmount(D("500.5"))
    assert _Fakes([], withdrawable=D("1200.5")).service().free_amount(USER, "USDC", "hyperliquid") \
        == FreeAmount(D("1200.5"))


def test_free_funds_answers_each_source_and_names_the_one_it_cannot_read() -> None:
    fakes = _Fakes([_position()], withdrawable=D("1200.5"))
    free = fakes.service().free_funds(USER)
    assert free.solana is not None and free.hyperliquid is not None and free.unavailable == {}
    assert (free.solana["USDC"].amount, free.solana["SOL"].amount) == (D("40.25"), D("1.49"))  # 0.01 SOL for fees
    assert free.hyperliquid.amount == D("852.12")

    fakes.margin_down = True
    down = fakes.service().free_funds(USER)
    assert down.hyperliquid is None and down.solana == free.solana
    assert down.unavailable == {"hyperliquid": "Hyperliquid's margin cannot be read just now; try again in a minute."}

    fakes.margin_down, fakes.withdrawable_down = False, True
    assert fakes.service().free_funds(USER).unavailable == {
        "hyperliquid": "Hyperliquid's account cannot be read just now; try again in a minute."}
    with pytest.raises(TransientVenueError):  # the request's check lets it through: a paying step retries it
        fakes.service().free_amount(USER, "USDC", "hyperliquid")

    fakes.withdrawable_down, fakes.wallet = False, Balances(None, None, None, None)
    assert fakes.service().free_funds(USER).unavailable == {
        "solana": "The wallet's balance cannot be read just now; try again in a minute."}


def test_nothing_is_free_while_a_position_opens_or_closes() -> None:
    free = _Fakes([_position(PositionStatus.CLOSING)], withdrawable=D("1200.5")).service().free_funds(USER)
    assert free.solana is None and free.hyperliquid is None
    assert set(free.unavailable) == {"solana", "hyperliquid"}
    assert free.unavailable["solana"].startswith("A position is opening or closing")
