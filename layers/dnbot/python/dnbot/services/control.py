"""The user's bot (start, pause, stop) and the operator's kill switch."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.pnl_window import READING_GAP, PnlReading, PositionPnlTrack, pnl_in_window
from dnbot.domain.positions import Position, PositionStatus
from dnbot.ports import (
    ActivityLog,
    Clock,
    KillSwitchReader,
    KillSwitchWriter,
    OpenGuard,
    PnlSnapshots,
    PositionStore,
    UserRecord,
    UserStore,
)
from dnbot.services.errors import Forbidden, NotFound

BotAction = Literal["start", "pause", "stop"]
_STATUS_AFTER: dict[BotAction, str] = {"start": "running", "pause": "paused", "stop": "standby"}
PNL_WINDOW = timedelta(hours=24)
_BOT_MESSAGES: dict[BotAction, str] = {
    "start": "Strategy launched: the bot opens and closes positions within your settings.",
    "pause": "Strategy paused: open positions are kept and protected, no new ones open.",
    "stop": ("Strategy stopped: the bot is on standby and opens nothing on its own; open positions stay open, "
             "protected by their risk exits, until you close them."),
}


class KillSwitchControl(KillSwitchReader, KillSwitchWriter, Protocol):
    """Both halves of the kill switch (the SSM adapter implements both)."""


@dataclass(frozen=True, slots=True)
class BotStatus:
    bot_status: str
    kill_switch: KillSwitch
    positions_open: int
    pnl_24h_usd: Decimal  # realized + change of unrealized over the last 24 h (domain/pnl_window.py)
    pnl_24h_as_of: datetime | None = None  # the open positions' unrealized PnL as of then (None: none open, exact)
    operator: bool = False  # may set the kill switch (emergency stop, and back)
    failed_opens: int = 0  # failed opens in a row
    open_backoff_until: datetime | None = None  # no automatic open before this (None: none pending)


class ControlService:
    def __init__(self, users: UserStore, positions: PositionStore, kill_switch: KillSwitchControl, clock: Clock,
                 admin_emails: tuple[str, ...], guard: OpenGuard | None = None,
                 activity: ActivityLog | None = None, snapshots: PnlSnapshots | None = None) -> None:
        self._snapshots = snapshots
        self._activity = activity
        self._guard = guard
        self._users = users
        self._positions = positions
        self._kill_switch = kill_switch
        self._clock = clock
        self._admins = {email.lower() for email in admin_emails}

    def _user(self, user_id: str) -> UserRecord:
        user = self._users.get_user(user_id)
        if user is None:
            raise NotFound("No such user.", code="unknown_user")
        return user

    def set_bot(self, user_id: str, action: BotAction) -> BotStatus:
        user = self._user(user_id)
        self._users.put_user(replace(user, bot_status=_STATUS_AFTER[action]))
        if self._activity is not None:
            self._activity.record(user_id, "bot", _BOT_MESSAGES[action])
        return self.status(user_id)

    def status(self, user_id: str) -> BotStatus:
        user = self._user(user_id)
        positions = self._positions.list_positions(user_id)
        since = self._clock.now() - PNL_WINDOW
        pnl_24h = pnl_in_window(self._pnl_tracks(user_id, positions, since), since)
        # a failed open backs automatic opens off (domain/positions.OPEN_BACKOFF_*): the status says until when
        backoff = self._guard.open_backoff(user_id) if self._guard is not None else None
        return BotStatus(
            bot_status=user.bot_status,
            kill_switch=self._kill_switch.kill_switch(),
            positions_open=sum(1 for p in positions if p.status is PositionStatus.OPEN),
            pnl_24h_usd=pnl_24h.total_usd,
            pnl_24h_as_of=pnl_24h.as_of,
            operator=self.is_operator(user),
            failed_opens=backoff.failures if backoff else 0,
            open_backoff_until=backoff.until if backoff and backoff.until > self._clock.now() else None,
        )

    def _pnl_tracks(self, user_id: str, positions: list[Position], since: datetime) -> list[PositionPnlTrack]:
        """The positions that count in the window (closed inside it, or still open) with their hourly PnL
        snapshots from just before the window on: one Query, no venue read (the status is polled)."""
        counted = [p for p in positions if (p.updated_at >= since if p.realized_pnl_usd is not None
                                            else p.status.is_live)]
        readings: dict[str, list[PnlReading]] = {}
        if counted and self._snapshots is not None:
            for snapshot in self._snapshots.snapshots(user_id, since - READING_GAP):
                readings.setdefault(snapshot.position_id, []).append(
                    PnlReading(snapshot.at, sum(snapshot.parts.values(), Decimal(0))))
        return [PositionPnlTrack(opened_at=p.created_at, readings=readings.get(p.position_id, ()),
                                 closed_at=p.updated_at if p.realized_pnl_usd is not None else None,
                                 realized_usd=p.realized_pnl_usd) for p in counted]

    def is_operator(self, user: UserRecord) -> bool:
        return user.email.lower() in self._admins

    def emergency_stop(self, user_id: str) -> KillSwitch:
        """Operator only: every tick and every workflow's Preflight sees it within the cache time."""
        return self.set_kill_switch(user_id, KillSwitch.CLOSE_ALL)

    def set_kill_switch(self, user_id: str, value: KillSwitch) -> KillSwitch:
        """Operator only: stop everything, stop new positions, or set trading back on."""
        user = self._user(user_id)
        if not self.is_operator(user):
            raise Forbidden("Only an operator can change the kill switch; ask one to do it.", code="not_an_operator")
        self._kill_switch.set_kill_switch(value)
        if self._activity is not None:
            self._activity.record(user_id, "kill_switch", f"Kill switch set to {value.value} by {user.email}.")
        return value
