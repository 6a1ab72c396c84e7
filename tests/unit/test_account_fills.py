"""The one walk over Hyperliquid's userFills (dnbot.adapters.hyperliquid.positions.AccountFills): which position
each fill of the shared account belongs to (its cloid's first 12 bytes) and what short each position's fills leave
open. The funding split, the short venue's own fills and the reconciler's venue truth all read the account this
way."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from dnbot.adapters.hyperliquid.positions import AccountFills, cloid_for, position_key, short_change
from dnbot.adapters.reconciliation import VenueTruthAdapter

D = Decimal
FOREIGN = "0x" + "ab" * 16  # 16 bytes, but no position of the bot (another client, or an account trade)


def _fill(cloid: str | None, side: str, sz: str, time: int, tid: int, coin: str = "SOL",
          **extra: Any) -> dict[str, Any]:
    return {"coin": coin, "cloid": cloid, "side": side, "sz": sz, "px": "150", "fee": "0.01", "time": time,
            "tid": tid, **extra}


def _account() -> list[dict[str, Any]]:
    """Two positions sharing one account, newest first as Hyperliquid answers."""
    rows = [
        _fill(cloid_for("a", "open"), "A", "2", 1, 10),
        _fill(cloid_for("b", "open"), "A", "3", 2, 11),
        _fill(cloid_for("a", "rebalance-0"), "B", "0.5", 3, 12),  # a's in-place rebalance buys some back
        _fill(FOREIGN, "A", "1", 4, 13),
        _fill(None, "A", "1.25", 4, 14),  # placed by hand on the venue's own page
        _fill(cloid_for("a", "open"), "A", "7", 5, 15, coin="ETH"),  # another coin: never SOL's short
        _fill(cloid_for("b", "rebalance"), "A", "1", 6, 17),
        _fill(cloid_for("a", "close-0"), "B", "1.5", 6, 16),  # a's closing buy-back
    ]
    return list(reversed(rows))


def test_each_position_gets_its_own_sol_fills_oldest_first() -> None:
    fills = AccountFills(_account(), "SOL")
    assert [f["cloid"] for f in fills.of("a")] == [cloid_for("a", "open"), cloid_for("a", "rebalance-0"),
                                                   cloid_for("a", "close-0")]
    assert [f["cloid"] for f in fills.of("b")] == [cloid_for("b", "open"), cloid_for("b", "rebalance")]
    assert fills.of("c") == []
    assert all(f["coin"] == "SOL" for f in fills.rows) and len(fills.rows) == 7


def test_sales_open_the_short_buys_take_it_back_per_position() -> None:
    fills = AccountFills(_account(), "SOL")
    assert fills.shorts() == {position_key("a"): D("0.0"), position_key("b"): D(4), FOREIGN[2:26]: D(1)}
    # the funding split's view: only what was held before the hour (a's buy-back and b's sale came at 6)
    assert fills.shorts(before_ms=6) == {position_key("a"): D("1.5"), position_key("b"): D(3),
                                         FOREIGN[2:26]: D(1)}
    assert fills.shorts(before_ms=1) == {}
    assert short_change({"sz": "0.25", "side": "A"}) == D("0.25")
    assert short_change({"sz": "0.25", "side": "B"}) == D("-0.25")
    assert AccountFills.key_of({"cloid": "0x1234"}) is None


class _Info:
    coin = "SOL"

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def post(self, body: dict[str, Any]) -> Any:
        assert body["type"] == "userFills"
        return self.rows

    def user_fills(self, address: str, *, reuse: bool = False) -> Any:
        return self.post({"type": "userFills", "user": address})

    def sol_position_size(self, address: str) -> Decimal:
        return D("-6.25")


class _NoLongs:
    def positions(self, wallet: str) -> list[dict[str, Any]]:
        return []


def test_the_venue_truth_reads_each_positions_short_from_the_same_walk() -> None:
    rows = _account()
    rows.insert(0, _fill(None, "B", "0.1", 9, 20, liquidation={"method": "market"}))
    adapter = VenueTruthAdapter(_Info(rows), _NoLongs(), lambda user: {}, lambda user: None,  # type: ignore[arg-type]
                                lambda user: "0xabc")
    truth = adapter.venue_truth("u", ["a", "b", "c"], datetime.fromtimestamp(0, tz=UTC))
    assert truth.position_shorts == {"a": D(0), "b": D(4), "c": D(0)}
    assert truth.account_short_sol == D("6.25") and truth.short_liquidated
    later = adapter.venue_truth("u", ["b"], datetime.fromtimestamp(1, tz=UTC))  # the liquidation came before
    assert later.position_shorts == {"b": D(4)} and not later.short_liquidated
