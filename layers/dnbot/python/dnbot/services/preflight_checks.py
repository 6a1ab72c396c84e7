"""Checks the open workflow's preflight runs before any money moves, beyond the kill switch, fresh rates and
price consensus (services/position_steps.py, PositionSteps.preflight).

`lst_depeg_refusal`: an LST whose market rate at Asgard is below its fair SOL value by more than the user's
`max_depeg` would trip the breaker that closes it (domain.risk): it is not opened (domain.lst_peg). The fair rate
is the LST's stake pool's redemption rate read on chain (`StakePoolReader`: jitoSOL's and jupSOL's SPL stake
pools), so a discount already there at a fresh deploy's first poll is seen; where it cannot be read (INF, which
is no stake pool, or the chain not answering) it is the market-based `lst_fair_sol_rates`. The strategy tick reads
the same references (`lst_fair_references`, once a tick) to leave a depegged LST out of what its users may open.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal

from dnbot.domain.assets import Asset
from dnbot.domain.lst_peg import PegReference, depeg_refusal, fair_lst_sol_rates, lst_peg, peg_quotes
from dnbot.domain.positions import Position
from dnbot.domain.presets import UserSettings
from dnbot.domain.rates import RatesSnapshot
from dnbot.ports import RatesStore, StakePoolReader, UserStore

logger = logging.getLogger(__name__)

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


def stake_pool_rates(stake_pools: StakePoolReader | None, assets: Iterable[Asset]) -> dict[Asset, Decimal]:
    """Each of these LSTs' stake pool redemption rate read on chain now. Left out: SOL, an LST with no stake pool
    (INF), and one whose read failed (logged): the market-based reference stands for those."""
    if stake_pools is None:
        return {}
    read: dict[Asset, Decimal] = {}
    for asset in dict.fromkeys(a for a in assets if a.is_lst):
        try:
            rate = stake_pools.redemption_rate(asset)
        except Exception as error:  # the node down or an unreadable account: the market reference stands
            logger.warning("%s stake pool unreadable, its peg falls back to the market reference: %s: %s",
                           asset.value, type(error).__name__, error)
            continue
        if rate is not None and rate > 0:
            read[asset] = rate
    return read


def lst_fair_references(rates: RatesStore, latest: RatesSnapshot, hourly: Sequence[RatesSnapshot] | None = None,
                        stake_pools: StakePoolReader | None = None, assets: Iterable[Asset] | None = None,
                        ) -> tuple[dict[Asset, Decimal], dict[Asset, PegReference]]:
    """Each LST's fair SOL rate in `latest` and where it came from: its stake pool's redemption rate where
    `stake_pools` reads it, else `lst_fair_sol_rates` (the market's). `assets`: the LSTs whose pools are read
    (default: every one in `latest`)."""
    fair = lst_fair_sol_rates(rates, latest, hourly)
    references = dict.fromkeys(fair, PegReference.MARKET)
    on_chain = stake_pool_rates(stake_pools, (m.asset for m in latest.markets) if assets is None else assets)
    fair.update(on_chain)
    references.update(dict.fromkeys(on_chain, PegReference.STAKE_POOL))
    return fair, references


def lst_depeg_refusal(position: Position, snapshot: RatesSnapshot, rates: RatesStore,
                      users: UserStore | None, stake_pools: StakePoolReader | None = None) -> str | None:
    """Why this open must stop now (its LST is depegged past the user's limit), or None (SOL, a healthy LST, or
    no prices to tell). `snapshot` is the fresh one the preflight already checked. The fair rate: the LST's stake
    pool's redemption rate read from `stake_pools`, else (INF, the chain unreadable, no reader) the market's."""
    if not position.asset.is_lst:
        return None
    fair, references = lst_fair_references(rates, snapshot, stake_pools=stake_pools, assets=[position.asset])
    reading = lst_peg(position.asset, snapshot, fair.get(position.asset),
                      references.get(position.asset, PegReference.MARKET))
    return depeg_refusal(reading, _max_depeg(position.user_id, users))
