"""The hourly PnL snapshots read the short's funding from Hyperliquid's public info endpoint (userFunding and
userFills by address), never through the trading adapter: in AWS the pnl_snapshots function holds no grant on the
Privy secret or the Privy KMS key (infra/dnbot_stack.py), so the runtime must not need them on this path.

The runtime here is configured as in Lambda (the Privy secret's ARN set) on moto, where that secret does not exist:
reading it fails, as it would for pnl_snapshots' role. The real handler still writes each open position's snapshot
with its share of the account's funding, and builds none of the custody parts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from moto import mock_aws

from dnbot.adapters.hyperliquid.positions import cloid_for
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Leg, Position, PositionStatus
from dnbot.domain.risk import RiskReadings
from dnbot.local.functions import LocalFunctions
from dnbot.ports import PnlSnapshot, UserRecord
from dnbot.runtime import Runtime, install
from dnbot.settings import Settings
from tests.unit.fakes import MovableClock

D = Decimal
T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
HOUR_MS = 3_600_000
ADDRESS = "0x00000000000000000000000000000000000000a1"
PRIVY_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dnbot-privy-AbCdEf"
# What only the trading adapter needs: none may be built for a snapshot.
CUSTODY_PARTS = ("short_venue", "privy_credentials", "privy_client", "privy_wallets", "authorization_signer",
                 "agent_keys")


def _position(position_id: str) -> Position:
    long = Leg("asgard", D(10), D(150), D(1500), D("0.75"), "pda")
    short = Leg("hyperliquid", D(10), D(150), D(1500), D("0.68"), "oid")
    return Position(position_id, "u1", Asset.SOL, Protocol.DRIFT, D(3), D(1500), PositionStatus.OPEN, T0, T0,
                    long, short)


class PublicInfo:
    """Hyperliquid's info endpoint for one account: two positions' opening sales (1 and 3 SOL) and two hourly
    payments of 0.400001 USDC. Records every query: all are unsigned reads by address."""

    coin = "SOL"

    def __init__(self) -> None:
        self.queries: list[dict[str, Any]] = []
        t0 = int(T0.timestamp() * 1000)
        self.fills = [{"coin": "SOL", "cloid": cloid_for("p1", "open"), "sz": "1", "side": "A", "time": t0},
                      {"coin": "SOL", "cloid": cloid_for("p2", "open"), "sz": "3", "side": "A", "time": t0}]
        self.payments = [{"time": t0 + HOUR_MS * hour,
                          "delta": {"coin": "SOL", "usdc": "0.400001", "szi": "-4", "fundingRate": "0.0001"}}
                         for hour in (1, 2)]

    def post(self, body: dict[str, Any]) -> Any:
        self.queries.append(body)
        if body["type"] == "userFills":
            return self.fills
        assert body["type"] == "userFunding"
        return [p for p in self.payments if p["time"] >= body["startTime"]
                and ("endTime" not in body or p["time"] <= body["endTime"])]

    def user_fills(self, address: str, *, reuse: bool = False) -> Any:
        return self.post({"type": "userFills", "user": address})


@dataclass
class Store:
    positions: list[Position]

    def positions_with_status(self, status: PositionStatus) -> list[Position]:
        return [p for p in self.positions if p.status == status]

    def get_user(self, user_id: str) -> UserRecord | None:
        return UserRecord(user_id, "fay@example.com", T0, evm_address=ADDRESS) if user_id == "u1" else None

    def latest_snapshot(self) -> None:
        return None


class Risk:
    def readings(self, position: Position) -> RiskReadings:
        return RiskReadings(health_factor=D("1.5"), margin_ratio=D("0.05"), short_liquidation_price=D(250),
                            oracle_price_usd=D(150))


@dataclass
class Snapshots:
    written: list[tuple[str, PnlSnapshot]] = field(default_factory=list)

    def put_snapshot(self, user_id: str, snapshot: PnlSnapshot) -> None:
        self.written.append((user_id, snapshot))


class Book:
    def realized_of(self, user_id: str) -> dict[str, dict[str, Decimal]]:
        return {}


@pytest.fixture
def lambda_like(monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with mock_aws():
        runtime = Runtime(Settings(environment="test", aws_region="us-east-1", privy_secret_arn=PRIVY_SECRET_ARN),
                          clock=MovableClock(T0 + timedelta(hours=3)))
        install(runtime)
        try:
            yield runtime
        finally:
            install(None)


def test_the_hourly_snapshot_reads_funding_without_any_privy_or_kms_part(lambda_like: Runtime) -> None:
    info, snapshots = PublicInfo(), Snapshots()
    lambda_like.override(store=Store([_position("p1")]), hyperliquid=info, risk=Risk(), pnl_snapshots=snapshots,
                         pnl_book=Book())

    assert LocalFunctions().invoke("pnl_snapshots", {"source": "aws.events"}) == {"snapshots": 1}

    [(user_id, snapshot)] = snapshots.written
    assert (user_id, snapshot.position_id) == ("u1", "p1")
    assert snapshot.parts["funding"] == D("0.20")  # p1 held 1 of the account's 4 SOL: 0.100000 of each payment
    assert {q["user"] for q in info.queries} == {ADDRESS}
    assert {q["type"] for q in info.queries} == {"userFunding", "userFills"}
    assert [part for part in CUSTODY_PARTS if part in lambda_like.__dict__] == []
    # the control: this runtime cannot read the Privy secret (as pnl_snapshots' role cannot)
    with pytest.raises(Exception, match="ResourceNotFoundException"):
        getattr(lambda_like, "privy_credentials")  # noqa: B009 (a property read for its error)


def test_the_dashboard_funding_export_reads_the_same_public_split(lambda_like: Runtime) -> None:
    info = PublicInfo()
    lambda_like.override(store=Store([_position("p1"), _position("p2")]), hyperliquid=info, risk=Risk())
    shares = lambda_like.short_funding.funding_shares("u1", [_position("p1"), _position("p2")], T0)
    assert [(s.position_id, s.share_usd) for s in shares] == [("p1", D("0.100000")), ("p2", D("0.300001")),
                                                              ("p1", D("0.100000")), ("p2", D("0.300001"))]
    assert [part for part in CUSTODY_PARTS if part in lambda_like.__dict__] == []


def test_an_overridden_short_venue_answers_its_own_funding(lambda_like: Runtime) -> None:
    class PaperShort:
        def funding_usd(self, user_id: str, position_id: str, since: datetime) -> Decimal:
            return D("1.23")

    lambda_like.override(short_venue=PaperShort(), hyperliquid=PublicInfo())
    # `dnbot local`'s paper venues keep their own funding
    assert lambda_like.short_funding.funding_usd("u1", "p1", T0) == D("1.23")
