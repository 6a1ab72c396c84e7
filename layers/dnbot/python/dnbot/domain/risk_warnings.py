"""Risk warnings: a live position whose reading comes close to an exit, said once, before the bot has to act.

The presets carry exit levels only (domain/presets.py ExitRules), so each warning level is set here, between the
open's level and the exit:

- health factor (Asgard): warn under min_health_factor x (1 + HEALTH_HEADROOM), 5% above the exit
  (1.10 -> 1.155 for the 2x preset; a 3x open starts near 1.2, a 3.5x open near 1.12 against an exit of 1.04);
- margin ratio (Hyperliquid): warn over WARNING_SHARE x max_margin_ratio (0.50 -> 0.40);
- liquidation distance: warn under halfway between the distance at the open and the rebalance level
  (distance at open x (1 + rebalance_share) / 2);
- LST depeg and venue price divergence: warn over DRIFT_WARNING_SHARE (half) of their exit level (0 at a
  healthy open).

A check stays warned until its reading is back past the warning level by RECOVERY_SHARE of the gap between the
warning and the exit (hysteresis: a reading sitting on the level does not warn every minute). A check that could
not be read keeps its state. Pure: readings and rules in, the warned checks and the new warnings out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dnbot.domain.presets import ExitRules
from dnbot.domain.risk import ExitReason, RiskReadings, joint_view, price_divergence

RISK_WARNING = "risk_warning"  # the activity kind (services/tick.py records it, services/notifications.py tells)
HEALTH_HEADROOM = Decimal("0.05")
WARNING_SHARE = Decimal("0.8")  # of the exit level, for readings that grow towards their exit
DRIFT_WARNING_SHARE = Decimal("0.5")  # depeg and divergence: their exits are small fractions, noise is relative
RECOVERY_SHARE = Decimal("0.25")


@dataclass(frozen=True, slots=True)
class Level:
    """One check now: its reading, where it warns and where the bot exits; `falling` when lower is worse."""

    check: ExitReason
    reading: Decimal
    warning: Decimal
    exit: Decimal
    falling: bool

    @property
    def crossed(self) -> bool:
        return self.reading < self.warning if self.falling else self.reading > self.warning

    @property
    def recovered(self) -> bool:
        clear = self.warning + (self.warning - self.exit) * RECOVERY_SHARE
        return self.reading >= clear if self.falling else self.reading <= clear


@dataclass(frozen=True, slots=True)
class RiskWarning:
    check: ExitReason
    reading: Decimal
    warning_level: Decimal
    exit_level: Decimal
    explanation: str


@dataclass(frozen=True, slots=True)
class WarningState:
    warned: frozenset[str]  # the checks warned about and not recovered (kept on the position)
    new: tuple[RiskWarning, ...]  # the ones to announce now


def levels(readings: RiskReadings, rules: ExitRules) -> list[Level]:
    """The checks that have a reading now, each with its warning and exit levels."""
    found: list[Level] = []
    if readings.health_factor is not None:
        found.append(Level(ExitReason.HEALTH_FACTOR, readings.health_factor,
                           rules.min_health_factor * (1 + HEALTH_HEADROOM), rules.min_health_factor, True))
    if readings.margin_ratio is not None:
        found.append(Level(ExitReason.MARGIN_RATIO, readings.margin_ratio,
                           rules.max_margin_ratio * WARNING_SHARE, rules.max_margin_ratio, False))
    distance, at_open = joint_view(readings).distance, readings.liquidation_distance_at_open
    if distance is not None and at_open is not None and at_open > 0:
        rebalance_at = at_open * rules.rebalance_share
        found.append(Level(ExitReason.LIQUIDATION_DISTANCE, distance, (at_open + rebalance_at) / 2, rebalance_at,
                           True))
    if readings.lst_depeg is not None:
        found.append(Level(ExitReason.DEPEG, readings.lst_depeg, rules.max_depeg * DRIFT_WARNING_SHARE,
                           rules.max_depeg, False))
    if readings.long_venue_sol_price_usd is not None and readings.oracle_price_usd:
        found.append(Level(ExitReason.DIVERGENCE,
                           price_divergence(readings.long_venue_sol_price_usd, readings.oracle_price_usd),
                           rules.max_divergence * DRIFT_WARNING_SHARE, rules.max_divergence, False))
    return found


def _explain(level: Level, rebalances_in_place: bool) -> str:
    if level.check is ExitReason.HEALTH_FACTOR:
        return f"Asgard health factor {level.reading:.3f} (the bot closes under {level.exit})"
    if level.check is ExitReason.MARGIN_RATIO:
        return f"Hyperliquid margin ratio {level.reading:.1%} (the bot closes over {level.exit:.0%})"
    if level.check is ExitReason.LIQUIDATION_DISTANCE:
        if not rebalances_in_place:
            return (f"a {level.reading:.1%} SOL move liquidates a leg (the bot closes under {level.exit:.1%}: no "
                    "in-place rebalance on this protocol)")
        return f"a {level.reading:.1%} SOL move liquidates a leg (the bot rebalances under {level.exit:.1%})"
    if level.check is ExitReason.DEPEG:
        return f"the LST is {level.reading:.2%} below its SOL value (the bot closes over {level.exit:.2%})"
    return f"the venues disagree on SOL by {level.reading:.3%} (the bot closes over {level.exit:.3%})"


def assess_warnings(readings: RiskReadings, rules: ExitRules, warned: frozenset[str], *,
                    rebalances_in_place: bool = True) -> WarningState:
    """Which checks are warned now, and which of them crossed their warning level since the last reading.
    `rebalances_in_place`: False for a long Asgard cannot re-centre (the distance's exit is a close)."""
    now = {level.check.value: level for level in levels(readings, rules)}
    kept = {check for check in warned if check not in now or not now[check].recovered}
    crossing = {check for check, level in now.items() if level.crossed}
    new = tuple(RiskWarning(level.check, level.reading, level.warning, level.exit,
                            _explain(level, rebalances_in_place))
                for check, level in now.items() if check in crossing and check not in kept)
    return WarningState(frozenset(kept | crossing), new)


def encode_warned(warned: frozenset[str]) -> str | None:
    return ",".join(sorted(warned)) or None


def decode_warned(stored: str | None) -> frozenset[str]:
    return frozenset(part for part in (stored or "").split(",") if part)
