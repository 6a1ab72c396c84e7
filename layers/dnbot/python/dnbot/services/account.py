"""A user's strategy settings and balances (the dashboard's Settings tab and wallet panel)."""

from __future__ import annotations

from dataclasses import replace

from dnbot.domain.presets import UserSettings
from dnbot.ports import ActivityLog, BalanceReader, Balances, UserRecord, UserStore
from dnbot.services.errors import ServiceError


class AccountService:
    def __init__(self, users: UserStore, balances: BalanceReader, activity: ActivityLog | None = None) -> None:
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
                                  f"at most ${settings.max_position_usd} per position.")
        return settings

    def reset_settings(self, user: UserRecord) -> UserSettings:
        self._users.put_user(replace(user, settings=None))
        if self._activity is not None:
            self._activity.record(user.user_id, "settings", "Settings reset to the balanced preset's defaults.")
        return UserSettings.create()

    def balances(self, user: UserRecord) -> Balances:
        return self._balances.balances(user)
