"""A user's strategy settings and balances (the dashboard's Settings tab and wallet panel), with the USDC on its
way between the venues (a CCTP transfer moving or stuck: gone from one balance, not yet in the other)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from dnbot.domain.bridge import (
    IN_FLIGHT,
    OVERDUE_REPORTED,
    BridgeDirection,
    BridgeState,
    BridgeTransfer,
    expected_arrival_usd,
    overdue,
    stage,
)
from dnbot.domain.presets import UserSettings
from dnbot.ports import (
    ActivityLog,
    BalanceReader,
    Balances,
    BridgeTransferStore,
    Clock,
    PositionStore,
    UserRecord,
    UserStore,
)
from dnbot.services.errors import ServiceError

SOLANA_WALLET, HYPERLIQUID = "Solana wallet", "Hyperliquid"
# (from, to) in the trader's words: a to_short transfer funds the short's margin, a to_long one the long's wallet
ROUTE = {BridgeDirection.TO_SHORT: (SOLANA_WALLET, HYPERLIQUID), BridgeDirection.TO_LONG: (HYPERLIQUID, SOLANA_WALLET)}
# a burn signed (it lands within seconds) up to minted; `planned` has moved nothing, credited/abandoned are done
ON_ITS_WAY = IN_FLIGHT | {BridgeState.BURN_SIGNED}  # not domain.bridge.MOVING: that holds `planned` too


@dataclass(frozen=True, slots=True)
class TransferOnItsWay:
    """A transfer the user sees as "USDC on its way"."""

    transfer_id: str
    direction: BridgeDirection
    source: str  # SOLANA_WALLET / HYPERLIQUID
    destination: str
    amount_usd: Decimal  # USDC that left the source (the burn)
    arriving_usd: Decimal  # what reaches the destination: less the Fast fee (at most the max fee until attested)
    state: BridgeState  # the record's state (needs_attention included)
    stage: BridgeState  # the step its evidence proves: a minted one already shows in the destination wallet
    since: datetime  # the burn, else the record's creation
    overdue: bool  # not credited 30 min after its burn (domain.bridge.overdue, the reconciler's alert threshold)
    operator_alerted: bool  # the reconciler sent `bridge_overdue` for it


@dataclass(frozen=True, slots=True)
class AccountBalances:
    balances: Balances
    transfers: tuple[TransferOnItsWay, ...]  # oldest first
    in_transit_usd: Decimal  # USDC in no balance: the transfers burned (or being burned) and not yet minted


def on_their_way(records: Iterable[BridgeTransfer], now: datetime) -> tuple[tuple[TransferOnItsWay, ...], Decimal]:
    """The transfers moving or stuck (not planned, credited or abandoned; a `needs_attention` one whose evidence
    shows no signed burn moved nothing and is left out), and the USDC in no balance: their amounts until minted
    (a minted one is in the destination wallet: the balances above already count it)."""
    moving = [r for r in records if stage(r) in ON_ITS_WAY]  # stage: a needs_attention one by its evidence
    shown = tuple(TransferOnItsWay(
        transfer_id=r.transfer_id, direction=r.direction, source=ROUTE[r.direction][0],
        destination=ROUTE[r.direction][1], amount_usd=r.amount_usd, arriving_usd=expected_arrival_usd(r),
        state=r.state, stage=stage(r), since=r.burned_at or r.created_at, overdue=overdue(r, now),
        operator_alerted=(r.error or "").startswith(OVERDUE_REPORTED)) for r in moving)
    in_transit = sum((t.amount_usd for t in shown if t.stage is not BridgeState.MINTED), Decimal(0))
    return shown, in_transit


class AccountService:
    def __init__(self, users: UserStore, balances: BalanceReader, activity: ActivityLog | None = None,
                 positions: PositionStore | None = None, transfers: BridgeTransferStore | None = None,
                 clock: Clock | None = None) -> None:
        if (transfers is None) != (clock is None):
            raise ValueError("the bridge transfers and the clock come together")
        self._transfers, self._clock = transfers, clock
        self._positions = positions
        self._activity = activity
        self._users = users
        self._balances = balances

    @staticmethod
    def settings_of(user: UserRecord) -> UserSettings:
        return UserSettings.create(**user.settings) if user.settings else UserSettings.create()

    def save_settings(self, user: UserRecord, preset: str, leverage: object | None,
                      max_position_usd: object | None) -> UserSettings:
        try:
            settings = UserSettings.create(preset, leverage, max_position_usd)
        except ValueError as invalid:
            raise ServiceError(str(invalid), code="invalid_settings") from invalid
        self._users.put_user(replace(user, settings=settings.to_dict()))
        if self._activity is not None:
            self._activity.record(user.user_id, "settings",
                                  f"Settings saved: {settings.preset.name.value} preset, {settings.leverage}x, "
                                  f"at most ${settings.max_position_usd} per position.{self._on_open(user, settings)}")
        return settings

    def _on_open(self, user: UserRecord, settings: UserSettings) -> str:
        """What a settings change does to the user's live positions (the tick reads the settings afresh; the
        positions are not re-sized or re-levered): said in the activity line when any is live."""
        live = [p for p in self._positions.list_positions(user.user_id)
                if p.status.is_live] if self._positions is not None else []
        preset = settings.preset.name.value
        if len(live) == 1:
            return (" Your open position keeps its size and leverage; from the next tick the "
                    f"{preset} preset's exits watch it.")
        if live:
            return (f" Your {len(live)} open positions keep their size and leverage; from the next tick the "
                    f"{preset} preset's exits watch them.")
        return ""

    def reset_settings(self, user: UserRecord) -> UserSettings:
        self._users.put_user(replace(user, settings=None))
        if self._activity is not None:
            self._activity.record(user.user_id, "settings", "Settings reset to the balanced preset's defaults."
                                  + self._on_open(user, UserSettings.create()))
        return UserSettings.create()

    def balances(self, user: UserRecord) -> AccountBalances:
        """What the venues hold, and the USDC on its way between them (none without a transfer store)."""
        held = self._balances.balances(user)
        if self._transfers is None or self._clock is None:
            return AccountBalances(held, (), Decimal(0))
        transfers, in_transit = on_their_way(self._transfers.list_for_user(user.user_id), self._clock.now())
        return AccountBalances(held, transfers, in_transit)
