"""Response bodies of the dashboard's position, history and activity reads (decimals travel as strings)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from dnbot.domain.pnl import FundingShare, PnlBreakdown
from dnbot.domain.positions import Leg, Position
from dnbot.ports import ActivityPage
from dnbot.services.portfolio import HISTORY, PositionsPage, PositionView


class PnlOut(BaseModel):
    """USD by source, in cents; the parts sum exactly to `total_usd`."""

    total_usd: Decimal
    funding_usd: Decimal
    staking_usd: Decimal
    lending_usd: Decimal
    borrow_usd: Decimal
    fees_usd: Decimal
    price_usd: Decimal

    @classmethod
    def build(cls, pnl: PnlBreakdown | None) -> PnlOut | None:
        if pnl is None:
            return None
        return cls(total_usd=pnl.total, **{f"{name}_usd": value for name, value in pnl.as_dict().items()})


class LegView(BaseModel):
    size: Decimal
    entry_price: Decimal
    notional_usd: Decimal  # at entry
    fees_usd: Decimal
    value_usd: Decimal | None  # now (None: not read, or the position is closed)
    debt_usd: Decimal | None = None  # the long's USDC debt
    reference: str | None = None  # the venue's own id of the leg (the Asgard position PDA), to check it there

    @classmethod
    def build(cls, leg: Leg | None, value: Decimal | None, debt: Decimal | None = None) -> LegView | None:
        return None if leg is None else cls(size=leg.size, entry_price=leg.entry_price,
                                            notional_usd=leg.notional_usd, fees_usd=leg.fees_usd,
                                            value_usd=value, debt_usd=debt, reference=leg.reference)


RATIO_STEP = Decimal("0.0001")  # ratios go out with 4 decimals, like Asgard's health factor (0.01 % of margin)


def _ratio(value: Decimal | None) -> Decimal | None:
    """A venue ratio for display: maintenance / account value is an exact quotient with 28 significant digits."""
    return value.quantize(RATIO_STEP) if value is not None else None


class PositionViewOut(BaseModel):
    position_id: str
    asset: str
    protocol: str
    leverage: Decimal
    status: str
    notional_usd: Decimal
    long: LegView | None
    short: LegView | None
    created_at: datetime
    closed_at: datetime | None
    close_reason: str | None
    failure: str | None
    drift: str | None = None  # the reconciler's last finding: a venue disagreed with the ledger (and the repair)
    # live, from the venues (None: not live, or the venue could not be read: see stale_since)
    health_factor: Decimal | None
    margin_ratio: Decimal | None
    # the SOL price of the NEARER liquidation, the one liquidation_distance_pct and first_liquidation refer to
    # (kept for older dashboards, which labelled it the short's: read the two below)
    liquidation_price_usd: Decimal | None
    sol_price_usd: Decimal | None
    liquidation_distance_pct: Decimal | None  # SOL move to the nearer liquidation, in percent
    long_liquidation_price_usd: Decimal | None  # SOL falls to it: Asgard liquidates the long
    short_liquidation_price_usd: Decimal | None  # SOL rises to it: Hyperliquid liquidates the short
    first_liquidation: Literal["long", "short"] | None  # the leg liquidation_distance_pct refers to
    figures_at: datetime | None
    stale_since: datetime | None
    unreadable: list[str]
    pnl: PnlOut | None
    pnl_kind: Literal["unrealized", "realized"] | None
    pnl_usd: Decimal | None  # = pnl.total_usd (kept for older dashboards)

    @classmethod
    def build(cls, view: PositionView) -> PositionViewOut:
        p, live = view.position, view.live
        pnl = PnlOut.build(view.pnl)
        distance = live.liquidation_distance if live else None
        return cls(
            position_id=p.position_id, asset=p.asset.value, protocol=p.protocol.label, leverage=p.leverage,
            status=p.status.value, notional_usd=p.target_notional_usd,
            long=LegView.build(p.long_leg, live.long_value_usd if live else None,
                               live.long_debt_usd if live else None),
            short=LegView.build(p.short_leg, live.short_value_usd if live else None),
            created_at=p.created_at, closed_at=p.updated_at if p.status in HISTORY else None,
            close_reason=p.close_reason, failure=p.failure, drift=p.drift,
            health_factor=live.health_factor if live else None,
            margin_ratio=_ratio(live.margin_ratio if live else None),
            liquidation_price_usd=live.liquidation_price_usd if live else None,
            sol_price_usd=live.sol_price_usd if live else None,
            liquidation_distance_pct=(distance * 100).quantize(Decimal("0.01")) if distance is not None else None,
            long_liquidation_price_usd=live.long_liquidation_price_usd if live else None,
            short_liquidation_price_usd=live.short_liquidation_price_usd if live else None,
            first_liquidation=live.first_liquidation if live else None,
            figures_at=live.read_at if live else None, stale_since=live.stale_since if live else None,
            unreadable=list(live.unreadable) if live else [], pnl=pnl, pnl_kind=view.pnl_kind,
            pnl_usd=pnl.total_usd if pnl else p.realized_pnl_usd,
        )


class PositionsPageOut(BaseModel):
    positions: list[PositionViewOut]
    total: int
    next_cursor: str | None

    @classmethod
    def build(cls, page: PositionsPage) -> PositionsPageOut:
        return cls(positions=[PositionViewOut.build(v) for v in page.views], total=page.total,
                   next_cursor=page.cursor)


class ActivityEventOut(BaseModel):
    at: datetime
    kind: str
    message: str
    position_id: str | None = None
    detail: dict[str, str] | None = None


class ActivityOut(BaseModel):
    events: list[ActivityEventOut]
    next_cursor: str | None

    @classmethod
    def build(cls, page: ActivityPage) -> ActivityOut:
        return cls(events=[ActivityEventOut(at=e.at, kind=e.kind, message=e.message, position_id=e.position_id,
                                            detail=e.detail) for e in page.events], next_cursor=page.cursor)


POSITION_COLUMNS = ("position_id", "asset", "protocol", "leverage", "status", "opened_at", "closed_at",
                    "notional_usd", "pnl_kind", "total_usd", "funding_usd", "staking_usd", "lending_usd",
                    "borrow_usd", "fees_usd", "price_usd", "close_reason", "failure")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    # a spreadsheet must not run a cell as a formula (CSV injection)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def positions_csv(views: Iterable[PositionView]) -> str:
    def row(view: PositionView) -> list[object]:
        p, pnl = view.position, view.pnl
        parts = [pnl.total, *pnl.as_dict().values()] if pnl else [None] * 7
        return [p.position_id, p.asset.value, p.protocol.label, p.leverage, p.status.value, p.created_at,
                p.updated_at if p.status in HISTORY else None, p.target_notional_usd, view.pnl_kind, *parts,
                p.close_reason, p.failure]
    return to_csv(POSITION_COLUMNS, (row(v) for v in views))


FUNDING_COLUMNS = ("time_utc", "position_id", "asset", "funding_usd", "account_funding_usd", "position_size_sol",
                   "funding_rate_hourly")


def funding_csv(payments: Iterable[tuple[Position, FundingShare]]) -> str:
    """One row per position per hourly Hyperliquid funding payment: the position's share of it (+ received,
    - paid), the whole payment to the account, the position's short that hour and the hour's rate."""
    return to_csv(FUNDING_COLUMNS, (
        [share.at.astimezone(UTC).isoformat(), position.position_id, position.asset.value, share.share_usd,
         share.account_usd, share.size_sol, share.funding_rate_hourly]
        for position, share in payments))
