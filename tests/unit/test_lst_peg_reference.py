"""The LST peg's reference: the stake pool's redemption rate where it is read, the market's otherwise (domain.lst_peg,
services.preflight_checks), each named in the refusal."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from dnbot.domain.assets import Asset
from dnbot.domain.lst_peg import PegReference, depeg_refusal, depegged_lsts, lst_peg
from dnbot.ports import TransientVenueError
from dnbot.services.preflight_checks import stake_pool_rates
from tests.unit.test_lst_peg import T0, snapshot

D = Decimal


class Pools:
    """A StakePoolReader: jupSOL read, jitoSOL's node down, INF with no pool."""

    def __init__(self) -> None:
        self.asked: list[Asset] = []

    def redemption_rate(self, asset: Asset) -> Decimal | None:
        self.asked.append(asset)
        if asset is Asset.JITOSOL:
            raise TransientVenueError("Solana RPC answered 503")
        return D("1.09") if asset is Asset.JUPSOL else None


def test_the_refusal_names_its_reference() -> None:
    depegged = snapshot(T0, D("1.2") * D("0.97"))
    pool = depeg_refusal(lst_peg(Asset.JITOSOL, depegged, D("1.2"), PegReference.STAKE_POOL), D("0.02"))
    assert pool is not None and pool.startswith("jitoSOL trades 3.00% below its fair SOL value (Asgard 1.164000 SOL "
                                                "against 1.200000) by its stake pool's redemption rate on chain,")
    market = depeg_refusal(lst_peg(Asset.JITOSOL, depegged, D("1.2")), D("0.02"))
    assert market is not None and "by the best rate Asgard quoted over the last week" in market


def test_depegged_lsts_takes_each_lsts_reference() -> None:
    depegged = snapshot(T0 + timedelta(hours=1), D("1.2") * D("0.97"))
    refused = depegged_lsts(depegged, {Asset.JITOSOL: D("1.2")}, D("0.02"), {Asset.JITOSOL: PegReference.STAKE_POOL})
    assert "stake pool" in refused[Asset.JITOSOL]
    assert "Asgard quoted" in depegged_lsts(depegged, {Asset.JITOSOL: D("1.2")}, D("0.02"))[Asset.JITOSOL]


def test_stake_pool_rates_keeps_what_was_read_and_leaves_the_rest_to_the_market() -> None:
    pools = Pools()
    assert stake_pool_rates(pools, [Asset.SOL, Asset.JITOSOL, Asset.JUPSOL, Asset.INF, Asset.JUPSOL]) == {
        Asset.JUPSOL: D("1.09")}
    assert pools.asked == [Asset.JITOSOL, Asset.JUPSOL, Asset.INF]  # SOL not asked, each LST once
    assert stake_pool_rates(None, [Asset.JUPSOL]) == {}
