"""Checks the open workflow's preflight runs before any money moves, beyond the kill switch, fresh rates and
price consensus (services/position_steps.py, PositionSteps.preflight).

`lst_depeg_refusal`: an LST whose market rate at Asgard is below its fair SOL value by more than the user's
`max_depeg` would trip the breaker that closes it (domain.risk): it is not opened (domain.lst_peg).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from dnbot.domain.lst_peg import depeg_refusal, lst_peg
from dnbot.domain.positions import Position
from dnbot.domain.presets import UserSettings
from dnbot.domain.rates import RatesSnapshot
from dnbot.ports import RatesStore, UserStore

# The hourly rates the fair rate is taken from: long enough to see a discount that started days ago, short enough
# that the staking APY grows the old rates by little (a week at 8 %/yr: 0.15 %, under every preset's limit).
DEPEG_LOOKBACK = timedelta(days=7)


def _max_depeg(user_id: str, users: UserStore | None) -> Decimal:
    user = users.get_user(user_id) if users is not None else None
    settings = UserSettings.create(**user.settings) if user is not None and user.settings else UserSettings.create()
    return settings.exits.max_depeg


def lst_depeg_refusal(position: Position, snapshot: RatesSnapshot, rates: RatesStore,
                      users: UserStore | None) -> str | None:
    """Why this open must stop now (its LST is depegged past the user's limit), or None (SOL, a healthy LST, or
    no prices to tell). `snapshot` is the fresh one the preflight already checked."""
    if not position.asset.is_lst:
        return None
    reading = lst_peg(position.asset, snapshot, rates.hourly_snapshots(snapshot.at - DEPEG_LOOKBACK))
    return depeg_refusal(reading, _max_depeg(position.user_id, users))
