"""A user's strategy settings and balances (the dashboard's Settings tab and wallet panel)."""

from __future__ import annotations

from dataclasses import replace

from dnbot.domain.presets import UserSettings
from dnbot.ports import ActivityLog, BalanceReader, Balances, PositionStore, UserRecord, UserStore
from dnbot.services.errors import ServiceError


class AccountService:
    def __init__(self, users: UserStore, balances: BalanceReader, activity: ActivityLog | None = None,
                 positions: PositionStore | None = None) -> None:
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

    def balances(self, user: UserRecord) -> Balances:
        return self._balances.balances(user)
