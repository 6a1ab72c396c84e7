"""The user's bot (start, pause, stop) and the operator's kill switch."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Literal, Protocol

from dnbot.domain.positions import PositionStatus
from dnbot.ports import Clock, KillSwitchReader, KillSwitchWriter, PositionStore, UserRecord, UserStore
from dnbot.resources import KillSwitch
from dnbot.services.errors import Forbidden, NotFound

BotAction = Literal["start", "pause", "stop"]
_STATUS_AFTER: dict[BotAction, str] = {"start": "running", "pause": "paused", "stop": "standby"}


class KillSwitchControl(KillSwitchReader, KillSwitchWriter, Protocol):
    """Both halves of the kill switch (the SSM adapter implements both)."""


@dataclass(frozen=True, slots=True)
class BotStatus:
    bot_status: str
    kill_switch: KillSwitch
    positions_open: int
    pnl_24h_usd: Decimal


class ControlService:
    def __init__(self, users: UserStore, positions: PositionStore, kill_switch: KillSwitchControl, clock: Clock,
                 admin_emails: tuple[str, ...]) -> None:
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
        return self.status(user_id)

    def status(self, user_id: str) -> BotStatus:
        user = self._user(user_id)
        positions = self._positions.list_positions(user_id)
        since = self._clock.now() - timedelta(hours=24)
        realized_24h = sum((p.realized_pnl_usd for p in positions
                            if p.realized_pnl_usd is not None and p.updated_at >= since), Decimal(0))
        return BotStatus(
            bot_status=user.bot_status,
            kill_switch=self._kill_switch.kill_switch(),
            positions_open=sum(1 for p in positions if p.status is PositionStatus.OPEN),
            pnl_24h_usd=realized_24h,
        )

    def emergency_stop(self, user_id: str) -> KillSwitch:
        """Operator only: every tick and every workflow's Preflight sees it within the cache time."""
        user = self._user(user_id)
        if user.email.lower() not in self._admins:
            raise Forbidden("Only an operator can stop all trading.", code="not_an_operator")
        self._kill_switch.set_kill_switch(KillSwitch.CLOSE_ALL)
        return KillSwitch.CLOSE_ALL
