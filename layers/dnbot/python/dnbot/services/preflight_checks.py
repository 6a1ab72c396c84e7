"""Checks the open workflow's preflight runs before any money moves, beyond the kill switch, fresh rates and
price consensus (services/position_steps.py, PositionSteps.preflight).

`lst_depeg_refusal`: an LST whose market rate at Asgard is below its fair SOL value by more than the user's
`max_depeg` would trip the breaker that closes it (domain.risk): it is not opened (domain.lst_peg). The fair
rates come from `lst_fair_sol_rates`, which the strategy tick also reads (once a tick) to leave a depegged LST out
of what its users may open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from dnbot.domain.assets import Asset
from dnbot.domain.lst_peg import depeg_refusal, fair_lst_sol_rates, lst_peg, peg_quotes
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


def lst_fair_sol_rates(rates: RatesStore, latest: RatesSnapshot,
                       hourly: Sequence[RatesSnapshot] | None = None) -> dict[Asset, Decimal]:
    """Each LST's fair SOL rate at `latest.at`: the best rate of the last `DEPEG_LOOKBACK` (and `latest`'s), grown
    by the staking APY since. The rates: each hour's best that the poller keeps (`RatesStore.peg_quotes`, so a
    depeg after the first poll of a fresh deploy's first hour still has that poll's healthy rate to compare
    with), and the stored hourly snapshots' (the hours polled before the poller kept its best). `hourly`: those
    snapshots if the caller has read them already (the tick, for its strategy history), else they are read."""
    since = latest.at - DEPEG_LOOKBACK
    first_hour = since.replace(minute=0, second=0, microsecond=0)  # as RatesStore.hourly_snapshots(since) reads
    week = rates.hourly_snapshots(since) if hourly is None else [s for s in hourly if s.at >= first_hour]
    quotes = [quote for snapshot in week for quote in peg_quotes(snapshot)]
    return fair_lst_sol_rates([*rates.peg_quotes(since), *quotes, *peg_quotes(latest)], latest.at)


def lst_depeg_refusal(position: Position, snapshot: RatesSnapshot, rates: RatesStore,
                      users: UserStore | None) -> str | None:
    """Why this open must stop now (its LST is depegged past the user's limit), or None (SOL, a healthy LST, or
    no prices to tell). `snapshot` is the fresh one the preflight already checked."""
    if not position.asset.is_lst:
        return None
    reading = lst_peg(position.asset, snapshot, lst_fair_sol_rates(rates, snapshot).get(position.asset))
    return depeg_refusal(reading, _max_depeg(position.user_id, users))
