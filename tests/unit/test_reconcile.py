"""The reconciler's drift classification (dnbot.domain.reconcile): each kind of drift and its repair, and, over
generated ledgers and venue states, that carrying the plan out leaves nothing to repair (idempotent) and no long
at rest without its short."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Leg, Position, PositionStatus
from dnbot.domain.reconcile import (
    CloseLong,
    CloseShort,
    DriftKind,
    FlagPosition,
    ReconcilePlan,
    SettlePosition,
    TradeAccountShort,
    VenueLong,
    VenueTruth,
    classify,
)

D = Decimal
NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)


def position(pid: str, status: PositionStatus = PositionStatus.OPEN, *, long_size: str | None = "10",
             short_size: str | None = "10") -> Position:
    long_leg = Leg("asgard", D(long_size), D(150), D(long_size) * 150, D(1), f"pda-{pid}") if long_size else None
    short_leg = Leg("hyperliquid", D(short_size), D(150), D(short_size) * 150, D(1), f"cloid-{pid}") \
        if short_size else None
    return Position(pid, "u1", Asset.SOL, Protocol.DRIFT, D(3), D(1500), status, NOW, NOW, long_leg, short_leg)


def long_of(pid: str, size: str = "10", *, active: bool = True, liquidated: bool = False) -> VenueLong:
    return VenueLong(f"pda-{pid}", pid, D(size), active, liquidated)


def truth(account: str, shorts: dict[str, str], longs: list[VenueLong], liquidated: bool = False) -> VenueTruth:
    return VenueTruth(D(account), {k: D(v) for k, v in shorts.items()}, tuple(longs), liquidated)


def kinds(plan: ReconcilePlan) -> list[DriftKind]:
    return [d.kind for d in plan.drifts]


def test_in_sync_when_the_venues_hold_exactly_the_ledgers_legs() -> None:
    plan = classify([position("a"), position("b", short_size="5", long_size="5")],
                    truth("15", {"a": "10", "b": "5"}, [long_of("a"), long_of("b", "5")]))
    assert plan.in_sync and plan.actions == ()


def test_a_short_closed_outside_the_bot_is_restored_on_the_account() -> None:
    # the positions' own fills still add up to 10 SOL; the account holds none: someone else bought it back
    plan = classify([position("a")], truth("0", {"a": "10"}, [long_of("a")]))
    assert kinds(plan) == [DriftKind.SHORT_MISSING]
    assert plan.of_type(TradeAccountShort) == [TradeAccountShort(D(10), reduce_only=False, hedges=("a",))]
    assert plan.of_type(CloseLong) == [] and plan.of_type(SettlePosition) == []


def test_a_hyperliquid_liquidation_is_named_as_such() -> None:
    plan = classify([position("a")], truth("0", {"a": "10"}, [long_of("a")], liquidated=True))
    assert kinds(plan) == [DriftKind.HYPERLIQUID_LIQUIDATION] and plan.drifts[0].kind.is_liquidation


def test_when_the_hedge_cannot_be_restored_the_long_is_closed() -> None:
    plan = classify([position("a")], truth("0", {"a": "10"}, [long_of("a")]), unhedgeable=frozenset({"a"}))
    assert kinds(plan) == [DriftKind.HEDGE_NOT_RESTORED]
    assert plan.of_type(CloseLong) == [CloseLong("a")]
    assert plan.of_type(CloseShort) == []  # the account has no short left to buy back
    assert plan.of_type(SettlePosition) == [SettlePosition("a", PositionStatus.CLOSED,
                                                           "reconciler: its short could not be restored")]


def test_an_asgard_liquidation_flattens_the_position() -> None:
    plan = classify([position("a"), position("b")],
                    truth("20", {"a": "10", "b": "10"}, [long_of("a", "4", liquidated=True), long_of("b")]))
    assert kinds(plan) == [DriftKind.ASGARD_LIQUIDATION]
    assert plan.actions[:2] == (CloseLong("a"), CloseShort("a", D(10)))  # the other position keeps its short
    assert [a.position_id for a in plan.actions if isinstance(a, SettlePosition)] == ["a"]


def test_a_long_closed_outside_the_bot_has_its_short_bought_back() -> None:
    plan = classify([position("a")], truth("10", {"a": "10"}, [long_of("a", active=False)]))
    assert kinds(plan) == [DriftKind.LONG_MISSING]
    assert plan.of_type(CloseLong) == [] and plan.of_type(CloseShort) == [CloseShort("a", D(10))]


def test_a_long_whose_short_never_came_is_closed() -> None:
    # the short was refused and the unwind failed on the long: needs_attention with a naked long
    plan = classify([position("a", PositionStatus.NEEDS_ATTENTION, short_size=None)],
                    truth("0", {"a": "0"}, [long_of("a")]))
    assert kinds(plan) == [DriftKind.SHORT_MISSING]
    assert plan.of_type(CloseLong) == [CloseLong("a")]


def test_orphans_of_a_failed_position_are_closed_and_an_unexplained_short_is_bought_back() -> None:
    # the open's answers were lost before the ledger write: the venues hold both legs, the ledger none
    failed = position("f", PositionStatus.FAILED, long_size=None, short_size=None)
    plan = classify([position("a"), failed],
                    truth("23.5", {"a": "10", "f": "12"}, [long_of("a"), long_of("f", "12")]))
    assert sorted(kinds(plan)) == sorted([DriftKind.ORPHAN_LONG, DriftKind.ORPHAN_SHORT, DriftKind.EXTRA_SHORT])
    assert plan.of_type(CloseLong) == [CloseLong("f")]
    assert plan.of_type(CloseShort) == [CloseShort("f", D(12))]
    assert plan.of_type(TradeAccountShort) == [TradeAccountShort(D("-1.5"), reduce_only=True)]


def test_an_unknown_long_is_left_for_the_operator() -> None:
    plan = classify([], truth("0", {}, [VenueLong("pda-x", None, D(3), True)]))
    assert kinds(plan) == [DriftKind.UNKNOWN_LONG] and plan.actions == ()


def test_a_stale_open_is_unwound_and_fails() -> None:
    pending = position("p", PositionStatus.PENDING, short_size=None)
    plan = classify([pending], truth("7", {"p": "7"}, [long_of("p")]), stale=frozenset({"p"}))
    assert kinds(plan) == [DriftKind.STALE_WORKFLOW]
    assert plan.actions == (CloseLong("p"), CloseShort("p", D(7)),
                            SettlePosition("p", PositionStatus.FAILED, "reconciler: pending with no workflow running"))


def test_sizes_the_ledger_missed_are_adopted_and_a_changed_long_is_flagged() -> None:
    plan = classify([position("a")], truth("11", {"a": "11"}, [long_of("a", "8")]))
    assert kinds(plan) == [DriftKind.SIZE_MISMATCH]
    (flag,) = plan.of_type(FlagPosition)
    assert isinstance(flag, FlagPosition) and flag.needs_attention and flag.adopt_short_sol == D(11)


def test_an_account_long_nobody_explains_is_sold_back() -> None:
    plan = classify([], truth("-2", {}, []))
    assert plan.of_type(TradeAccountShort) == [TradeAccountShort(D(2), reduce_only=True)]


# --- properties over generated ledgers and venues -----------------------------------------------------------

SIZES = st.sampled_from(["0", "0.5", "1", "2.25", "5", "10"])


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Position], VenueTruth]:
    positions: list[Position] = []
    longs: list[VenueLong] = []
    shorts: dict[str, Decimal] = {}
    for i in range(draw(st.integers(0, 4))):
        pid = f"p{i}"
        status = draw(st.sampled_from([PositionStatus.OPEN, PositionStatus.NEEDS_ATTENTION, PositionStatus.FAILED,
                                       PositionStatus.CLOSED]))
        size = draw(st.sampled_from(["1", "2.5", "10"]))
        holds = status.is_live
        positions.append(position(pid, status, long_size=size if holds else None,
                                  short_size=(size if draw(st.booleans()) else None) if holds else None))
        venue = draw(st.sampled_from(["active", "gone", "liquidated", "absent"]))
        if venue != "absent":
            longs.append(long_of(pid, size, active=venue != "gone", liquidated=venue == "liquidated"))
        shorts[pid] = D(draw(st.sampled_from(["0", size, "0.5"])))
    if draw(st.booleans()):
        longs.append(VenueLong("pda-stranger", None, D(1), True))
    outside = D(draw(st.sampled_from(["0", "-10", "-2.5", "1", "3"])))
    account = sum(shorts.values(), D(0)) + outside
    return positions, VenueTruth(account, shorts, tuple(longs), draw(st.booleans()))


def carry_out(positions: list[Position], venue: VenueTruth, plan: ReconcilePlan) -> tuple[list[Position], VenueTruth]:
    """The plan against a model of the venues (what the production adapters do, without the wire)."""
    longs = list(venue.longs)
    shorts = dict(venue.position_shorts)
    account = venue.account_short_sol
    ledger = {p.position_id: p for p in positions}
    for action in plan.actions:
        if isinstance(action, CloseLong):
            longs = [replace(v, active=False) if v.position_id == action.position_id else v for v in longs]
        elif isinstance(action, CloseShort):
            bought = min(action.size_sol, max(account, D(0)))
            shorts[action.position_id] -= bought
            account -= bought
        elif isinstance(action, TradeAccountShort):
            account += action.change_sol
        elif isinstance(action, SettlePosition):
            ledger[action.position_id] = replace(ledger[action.position_id], status=action.status)
        elif isinstance(action, FlagPosition):
            p = ledger[action.position_id]
            if action.adopt_short_sol is not None and p.short_leg is not None:
                p = replace(p, short_leg=replace(p.short_leg, size=action.adopt_short_sol))
            ledger[action.position_id] = replace(p, drift=action.reason, status=PositionStatus.NEEDS_ATTENTION
                                                 if action.needs_attention else p.status)
    return list(ledger.values()), VenueTruth(account, shorts, tuple(longs), venue.short_liquidated)


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_one_round_leaves_nothing_to_repair_and_no_naked_long(scenario: tuple[list[Position], VenueTruth]) -> None:
    positions, venue = scenario
    plan = classify(positions, venue)
    after_positions, after = carry_out(positions, venue, plan)
    again = classify(after_positions, after)
    # idempotent: a second round trades nothing (what is left is for the operator: a stranger's long, a long size
    # the ledger does not match)
    assert [a for a in again.actions if isinstance(a, CloseLong | CloseShort | TradeAccountShort | SettlePosition)] \
        == [], again
    assert {d.kind for d in again.drifts} <= {DriftKind.UNKNOWN_LONG, DriftKind.SIZE_MISMATCH}, again.drifts
    # the invariant: every active long of the bot belongs to a live position that holds its own short
    live = {p.position_id: p for p in after_positions if p.status.is_live}
    for long in after.longs:
        if long.active and long.position_id is not None:
            assert long.position_id in live, (long, plan)
            assert after.position_shorts.get(long.position_id, D(0)) > 0, (long, plan)
    # and the account is short exactly what the live positions hold
    held = sum((after.position_shorts.get(pid, D(0)) for pid in live), D(0))
    assert after.account_short_sol == held or (after.account_short_sol > held and after.account_short_sol <= 0), \
        (after.account_short_sol, held, plan)
