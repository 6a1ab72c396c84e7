"""The invariant of issue 8, measured: at rest, for every user, the venues' truth equals the ledger and no leg is
unhedged.

Venue truth is read from the simulator's own controls (`/sim/hyperliquid/accounts/<evm>`, `/sim/asgard/positions`,
which faults never touch) and Hyperliquid's `/info userFills` (the fills carry the bot's cloids, whose first
12 bytes name the position: each position's own short is the sum of its own fills).

    truth = venue_truth(sim.base_url, user)                 # user: a UserRecord (evm + solana address)
    report = assert_invariant(truth, store.list_positions(user.user_id))
    record_figure("short refused after the long", report)  # printed at the end of the pytest run

Figures: naked legs at rest (must be 0), duplicate orders (a second Asgard long or a second opening short for one
position; must be 0), the unhedged window (the longest time, in simulated seconds, a long was at Asgard without
its short, from the venues' own timestamps: the gap between a long landing and its short filling on an open,
the whole life of a long whose short was refused, and a long that outlived its short on a close).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import httpx

from dnbot.adapters.hyperliquid.positions import ACTION_OPEN, action_of, position_key, position_key_of
from dnbot.domain.positions import Position

ZERO = Decimal(0)
# the sizes one position's long and short may differ by, in SOL, and still count as hedged (the fill check's own
# tolerance is 1-2 %; a naked leg is a whole leg missing)
HEDGE_TOLERANCE = Decimal("0.05")

FIGURES: list[tuple[str, InvariantReport]] = []


class HasWallets(Protocol):
    @property
    def evm_address(self) -> str | None: ...

    @property
    def solana_address(self) -> str | None: ...


@dataclass(frozen=True)
class AsgardLong:
    pda: str
    active: bool
    size: Decimal
    opened_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class ShortFillRow:
    position_key: str | None  # None: not one of the bot's cloids (a liquidation, a manual trade)
    action: int | None
    signed_size: Decimal  # + adds to the short (a sell), - buys back
    time_ms: int
    oid: int
    cloid: str | None


@dataclass(frozen=True)
class VenueTruth:
    account_szi: Decimal  # Hyperliquid: the account's signed SOL size (negative = short)
    longs: list[AsgardLong]  # Asgard: every position of the wallet, active or not
    fills: list[ShortFillRow]  # Hyperliquid: every SOL fill of the account, oldest first

    @property
    def active_longs(self) -> list[AsgardLong]:
        return [long for long in self.longs if long.active]

    def short_of(self, position_id: str) -> Decimal:
        """This position's own short at the venue (SOL), from its own fills."""
        key = position_key(position_id)
        return sum((f.signed_size for f in self.fills if f.position_key == key), ZERO)


@dataclass
class InvariantReport:
    naked_legs: int = 0
    duplicate_orders: int = 0
    unhedged_window_seconds: float = 0.0
    live_positions: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.problems and self.naked_legs == 0 and self.duplicate_orders == 0

    def figure(self) -> str:
        return (f"naked legs at rest {self.naked_legs}, duplicate orders {self.duplicate_orders}, "
                f"unhedged window {self.unhedged_window_seconds:.1f} s, live positions {self.live_positions}")


def _time(text: Any) -> datetime | None:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None


def venue_truth(sim_base_url: str, user: HasWallets) -> VenueTruth:
    base = sim_base_url.rstrip("/")
    with httpx.Client(timeout=10) as http:
        longs: list[AsgardLong] = []
        if user.solana_address:
            for record in http.get(f"{base}/sim/asgard/positions").json():
                if record.get("ownerAddress") != user.solana_address:
                    continue
                size = Decimal(str(record.get("tokenAAmountUICurrent") or record.get("tokenAAmountUIEntry") or 0))
                longs.append(AsgardLong(str(record["positionPda"]), record.get("state") == 0, size,
                                        _time(record.get("openedAt")), _time(record.get("closedAt"))))
        szi = ZERO
        fills: list[ShortFillRow] = []
        if user.evm_address:
            state = http.get(f"{base}/sim/hyperliquid/accounts/{user.evm_address}").json()
            for entry in state.get("assetPositions", []):
                if entry["position"]["coin"] == "SOL":
                    szi = Decimal(entry["position"]["szi"])
            rows = http.post(f"{base}/hyperliquid/info", json={"type": "userFills", "user": user.evm_address}).json()
            for row in sorted(rows, key=lambda r: (int(r["time"]), int(r["tid"]))):
                if row.get("coin") != "SOL":
                    continue
                size = Decimal(row["sz"])
                cloid = row.get("cloid")
                fills.append(ShortFillRow(position_key_of(cloid) if cloid else None,
                                          action_of(cloid) if cloid else None,
                                          -size if row["side"] == "B" else size, int(row["time"]), int(row["oid"]),
                                          cloid))
    return VenueTruth(szi, longs, fills)


def _holds_legs(position: Position) -> bool:
    return position.status.is_live


def check_invariant(truth: VenueTruth, ledger: Iterable[Position]) -> InvariantReport:
    """Compare the venues with the ledger's positions of ONE user (every status: closed and failed ones must
    hold nothing)."""
    positions = list(ledger)
    report = InvariantReport()
    live = [p for p in positions if _holds_legs(p)]
    report.live_positions = len(live)
    longs_by_pda = {long.pda: long for long in truth.longs}

    # 1. Asgard: the active longs are exactly the live positions' long legs
    ledger_pdas = {p.long_leg.reference for p in live if p.long_leg is not None}
    for long in truth.active_longs:
        if long.pda not in ledger_pdas:
            report.naked_legs += 1
            report.problems.append(f"Asgard long {long.pda} ({long.size}) is active but no live position holds it")
    for position in live:
        if position.long_leg is not None:
            found = longs_by_pda.get(position.long_leg.reference)
            if found is None or not found.active:
                report.problems.append(f"position {position.position_id} ({position.status.value}) records a long "
                                       f"{position.long_leg.reference} that Asgard does not hold")

    # 2. Hyperliquid: every live position's own short equals its ledger leg, and the account nets to their sum
    ledger_short = ZERO
    for position in live:
        at_venue = truth.short_of(position.position_id)
        recorded = position.short_leg.size if position.short_leg is not None else ZERO
        ledger_short += recorded
        if at_venue != recorded:
            report.problems.append(f"position {position.position_id} ({position.status.value}): its short is "
                                   f"{at_venue} SOL at Hyperliquid, {recorded} SOL in the ledger")
    for position in positions:
        own = truth.short_of(position.position_id)
        if not _holds_legs(position) and own > 0:
            report.naked_legs += 1
            report.problems.append(f"position {position.position_id} is {position.status.value} but still has a "
                                   f"{own} SOL short at Hyperliquid")
        elif own < 0:
            report.problems.append(f"position {position.position_id} bought back {-own} SOL more than it sold: "
                                   "another position's short")
    if -truth.account_szi != ledger_short:
        report.naked_legs += 1
        report.problems.append(f"unhedged: the Hyperliquid account is short {-truth.account_szi} SOL, the live "
                               f"positions' shorts are {ledger_short} SOL")

    # 3. hedged: each live position holds both legs or neither, of matching size
    for position in live:
        held_long = longs_by_pda.get(position.long_leg.reference) if position.long_leg is not None else None
        long_on = held_long is not None and held_long.active
        short_on = truth.short_of(position.position_id)
        if long_on != (short_on > 0):
            report.naked_legs += 1
            report.problems.append(f"position {position.position_id} ({position.status.value}) is unhedged: long "
                                   f"{'on' if long_on else 'off'}, short {short_on} SOL")
        elif long_on and position.long_leg is not None and position.short_leg is not None:
            sol_of_long = position.long_leg.notional_usd / position.short_leg.entry_price
            if abs(sol_of_long - short_on) > max(HEDGE_TOLERANCE * sol_of_long, Decimal("0.02")):
                report.problems.append(f"position {position.position_id}: long {sol_of_long:.4f} SOL vs short "
                                       f"{short_on} SOL")

    # 4. duplicate orders: at most one Asgard long and one opening order per position
    report.duplicate_orders += max(0, len(truth.longs) - len(positions))
    opens: dict[str, set[int]] = defaultdict(set)
    for fill in truth.fills:
        if fill.position_key is not None and fill.action == ACTION_OPEN:
            opens[fill.position_key].add(fill.oid)
    report.duplicate_orders += sum(len(oids) - 1 for oids in opens.values())
    report.duplicate_orders += len({f.oid for f in truth.fills if f.position_key is not None}) - len(
        {f.cloid for f in truth.fills if f.position_key is not None})

    report.unhedged_window_seconds = _unhedged_window(truth, positions)
    return report


def _unhedged_window(truth: VenueTruth, positions: list[Position]) -> float:
    """The longest stretch a long sat at Asgard without its short (venue timestamps, simulated seconds)."""
    worst = 0.0
    by_pda = {long.pda: long for long in truth.longs}
    for position in positions:
        if position.long_leg is None or position.long_leg.reference not in by_pda:
            continue
        long = by_pda[position.long_leg.reference]
        if long.opened_at is None:
            continue
        key = position_key(position.position_id)
        own = [f for f in truth.fills if f.position_key == key]
        opened_ms = long.opened_at.timestamp() * 1000
        closed_ms = long.closed_at.timestamp() * 1000 if long.closed_at else None
        sells = [f.time_ms for f in own if f.signed_size > 0]
        if not sells:  # the short never came: the long was alone for its whole life (or until now)
            end = closed_ms if closed_ms is not None else max([opened_ms, *(f.time_ms for f in truth.fills)])
            worst = max(worst, (end - opened_ms) / 1000)
            continue
        worst = max(worst, (min(sells) - opened_ms) / 1000)
        running = ZERO
        flat_at: int | None = None
        for fill in own:
            running += fill.signed_size
            flat_at = fill.time_ms if running <= 0 else None
        if flat_at is not None and closed_ms is not None and closed_ms > flat_at:
            worst = max(worst, (closed_ms - flat_at) / 1000)
    return max(0.0, worst)


def assert_invariant(truth: VenueTruth, ledger: Iterable[Position]) -> InvariantReport:
    report = check_invariant(truth, ledger)
    assert report.holds, "the invariant does not hold:\n- " + "\n- ".join(report.problems or [report.figure()])
    return report


def record_figure(scenario: str, report: InvariantReport) -> None:
    """Kept for the end-of-run summary (tests/faults/conftest.py prints every scenario's figure)."""
    FIGURES.append((scenario, report))
