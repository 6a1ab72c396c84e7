"""Which part of a Hyperliquid account belongs to which dnbot position (no SDK: the tick's risk reads use it).

Hyperliquid nets every position of an account into one SOL position and pays funding to the account. Each order
the bot sends carries a cloid whose first 12 bytes are sha256(position id) and whose last 4 bytes are the action
(open, rebalance, close-<attempt>), so the account's fills say which position owns which part of the short, and
each hourly funding payment can be split by each position's own size in that hour.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from dnbot.domain.pnl import FundingShare, split_by_size

if TYPE_CHECKING:
    from dnbot.domain.positions import Position

ACTION_OPEN = 0x01
ACTION_REBALANCE = 0x02
ACTION_CLOSE = 0x10  # + the attempt number: close-0, close-1, ...
# In-place rebalance number n (dnbot.services.rebalance): its reduce-only buy-back is 0x100 + 2n, the sale that
# restores the short when the long's half fails is 0x101 + 2n. Both resize the position's short (they count with
# the open, not with the closing fills).
ACTION_REBALANCE_BASE = 0x100
_ACTIONS = {"open": ACTION_OPEN, "rebalance": ACTION_REBALANCE}
FUNDING_QUANTUM = Decimal("0.000001")  # Hyperliquid reports funding payments to the micro-dollar
UNATTRIBUTED = "unattributed"
FUNDING_PAGE = 500  # rows Hyperliquid's info endpoint returns at most for one time-ranged query


class InfoReader(Protocol):
    coin: str

    def post(self, body: dict[str, Any]) -> Any: ...

    def user_fills(self, address: str, *, reuse: bool = False) -> list[dict[str, Any]]: ...


def position_key(position_id: str) -> str:
    """The first 12 bytes of every cloid of this position (hex): the account's fills grouped by position."""
    return hashlib.sha256(position_id.encode()).hexdigest()[:24]


def cloid_for(position_id: str, step: str) -> str:
    """A stable 16-byte client order id for one step of one position: 12 bytes naming the position, 4 bytes
    the action ("open", "rebalance", "close-<attempt>", "rebalance-<n>", "restore-<n>"). Every fill of the account
    then says whose it is."""
    if step in _ACTIONS:
        action = _ACTIONS[step]
    elif step.startswith("close-") and step[6:].isdigit():
        action = ACTION_CLOSE + int(step[6:])
    elif step.startswith("rebalance-") and step[10:].isdigit():
        action = ACTION_REBALANCE_BASE + 2 * int(step[10:])
    elif step.startswith("restore-") and step[8:].isdigit():
        action = ACTION_REBALANCE_BASE + 2 * int(step[8:]) + 1
    else:
        raise ValueError(f"unknown order step {step!r}")
    return "0x" + position_key(position_id) + format(action, "08x")


def position_key_of(cloid: str) -> str | None:
    """The position key of one of the bot's cloids (None for another client's)."""
    text = cloid.removeprefix("0x").lower()
    return text[:24] if len(text) == 32 else None


def action_of(cloid: str) -> int | None:
    text = cloid.removeprefix("0x").lower()
    return int(text[24:], 16) if len(text) == 32 else None


def short_change(fill: Mapping[str, Any]) -> Decimal:
    """What one fill did to the account's short: a sale (side "A") adds its size, a buy takes it back."""
    size = Decimal(str(fill["sz"]))
    return size if fill["side"] == "A" else -size


class AccountFills:
    """One read of the account's userFills, walked by position: the fills of `coin` whose cloid is one of the
    bot's (32 hex digits) belong to the position its first 12 bytes name. The one walk behind the funding split,
    the short venue's own-fills reads and the reconciler's venue truth."""

    def __init__(self, rows: Iterable[dict[str, Any]], coin: str) -> None:
        self.rows: list[dict[str, Any]] = [row for row in rows if row.get("coin") == coin]  # the venue's order

    @staticmethod
    def key_of(fill: Mapping[str, Any]) -> str | None:
        return position_key_of(str(fill.get("cloid") or ""))

    def of(self, position_id: str) -> list[dict[str, Any]]:
        """This position's fills, oldest first (time, then trade id)."""
        key = position_key(position_id)
        return sorted((fill for fill in self.rows if self.key_of(fill) == key),
                      key=lambda fill: (int(fill["time"]), int(fill.get("tid", 0))))

    def shorts(self, before_ms: int | None = None) -> dict[str, Decimal]:
        """The short each position key's fills add up to (every action: opens and rebalances, closing buy-backs
        net), counting only the fills before `before_ms` if given (the funding split: the sizes held when an
        hourly payment was made; the reconciler: everything). Every key of the account is in it, also positions
        nobody asked about and the reconciler's own account trades: the funding split needs every holder."""
        sizes: dict[str, Decimal] = {}
        for fill in self.rows:
            key = self.key_of(fill)
            if key is not None and (before_ms is None or int(fill["time"]) < before_ms):
                sizes[key] = sizes.get(key, Decimal(0)) + short_change(fill)
        return sizes


def position_funding_usd(info: InfoReader, address: str, position_id: str, since: datetime) -> Decimal:
    """This position's share of the account's funding since `since` (the sum of its funding_shares)."""
    return sum((share.share_usd for share in funding_shares(info, address, (position_id,), since)), Decimal(0))


def user_funding(info: InfoReader, address: str, start_ms: int, end_ms: int | None) -> list[dict[str, Any]]:
    """Every userFunding row from `start_ms` to `end_ms`: Hyperliquid answers at most FUNDING_PAGE rows a request
    (oldest first), so a full page asks again from just after its last row."""
    rows: list[dict[str, Any]] = []
    while True:
        query: dict[str, Any] = {"type": "userFunding", "user": address, "startTime": start_ms}
        if end_ms is not None:
            query["endTime"] = end_ms
        page = info.post(query)
        rows.extend(page)
        if len(page) < FUNDING_PAGE:
            return rows
        start_ms = max(int(row["time"]) for row in page) + 1


def funding_shares(info: InfoReader, address: str, position_ids: Sequence[str], since: datetime,
                   until: datetime | None = None) -> list[FundingShare]:
    """Each position's part of each hourly payment the account received between `since` and `until`.

    Hyperliquid pays the account every hour (userFunding, with the account's size then); each payment is split by
    each position's own short in that hour (its fills before the hour; a short no position placed gets its own
    share), so concurrent positions' shares add up to what the venue paid. Two venue reads, whatever the number
    of positions."""
    wanted = {position_key(position_id): position_id for position_id in position_ids}
    payments = user_funding(info, address, int(since.timestamp() * 1000),
                            None if until is None else int(until.timestamp() * 1000))
    fills = AccountFills(info.user_fills(address, reuse=True), info.coin)
    shares: list[FundingShare] = []
    for payment in payments:
        delta = payment.get("delta", {})
        if delta.get("coin") != info.coin:
            continue
        hour_ms = int(payment["time"])
        held = {key: size for key, size in fills.shorts(before_ms=hour_ms).items() if size > 0}
        if not held.keys() & wanted.keys():
            continue
        outside = -Decimal(str(delta.get("szi", "0"))) - sum(held.values(), Decimal(0))
        if outside > 0:
            held[UNATTRIBUTED] = outside
        paid = Decimal(str(delta["usdc"]))
        split = split_by_size(paid, held, quantum=FUNDING_QUANTUM)
        at = datetime.fromtimestamp(hour_ms / 1000, tz=UTC)
        rate = Decimal(str(delta.get("fundingRate", "0")))
        shares.extend(FundingShare(at, wanted[key], split[key], paid, held[key], rate)
                      for key in sorted(held.keys() & wanted.keys(), key=wanted.__getitem__))
    return shares


class AccountFunding:
    """The short's funding, read-only: each position's share of what Hyperliquid paid its user's account (the
    same split as the short venue's funding_usd / funding_shares). userFunding and userFills are public per
    address, so this needs no agent key, Privy wallet or KMS key: what the hourly PnL snapshots and the dashboard's
    figures read funding through."""

    def __init__(self, info: InfoReader, address_of: Callable[[str], str]) -> None:
        self._info = info
        self._address_of = address_of  # user id -> their EVM address (their Hyperliquid account)

    def funding_usd(self, user_id: str, position_id: str, since: datetime) -> Decimal:
        return position_funding_usd(self._info, self._address_of(user_id), position_id, since)

    def funding_shares(self, user_id: str, positions: Sequence[Position], since: datetime,
                       until: datetime | None = None) -> list[FundingShare]:
        return funding_shares(self._info, self._address_of(user_id), [p.position_id for p in positions], since,
                              until)


def is_closing(action: int | None) -> bool:
    """A closing buy-back (close-<attempt>)."""
    return action is not None and ACTION_CLOSE <= action < ACTION_REBALANCE_BASE


def resizes_short(action: int | None) -> bool:
    """An order that sets the position's short size: the open, the open's fill adjustment, a rebalance's
    buy-back or its restoring sale."""
    return action is not None and (action in (ACTION_OPEN, ACTION_REBALANCE) or action >= ACTION_REBALANCE_BASE)
