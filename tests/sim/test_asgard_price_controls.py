"""The simulator's Asgard-only price controls (`POST /sim/asgard/price`, `POST /sim/asgard/lst-rate`): what the
fault suite uses to make one venue disagree on SOL and an LST depeg (tests/faults/test_product_more.py)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from dnbot.domain.assets import Asset
from dnbot.sim.server import RunningSim


def _price(sim: RunningSim, asset: Asset) -> Decimal:
    tokens = httpx.get(f"{sim.url('asgard')}/token-metadata/{asset.token.mint}", timeout=10,
                       headers={"X-API-Key": "test"}).json()
    return Decimal(str(tokens["price"]))


def test_asgard_price_moves_asgard_alone(sim: RunningSim) -> None:
    oracle = Decimal(httpx.get(f"{sim.base_url}/sim/clock", timeout=10).json()["sol_price"])
    try:
        moved = httpx.post(f"{sim.base_url}/sim/asgard/price", json={"factor": "0.97"}, timeout=10).json()
        asgard = _price(sim, Asset.SOL)
        assert abs(Decimal(moved["sol_price"]) / asgard - 1) < Decimal("0.0005")  # (the clock runs between reads)
        assert abs(asgard / oracle - Decimal("0.97")) < Decimal("0.001")  # Asgard moved
        after = Decimal(httpx.get(f"{sim.base_url}/sim/clock", timeout=10).json()["sol_price"])
        assert abs(after / oracle - 1) < Decimal("0.001")  # the replayed (Hyperliquid's) price did not
    finally:
        httpx.post(f"{sim.base_url}/sim/asgard/price", json={"factor": "1"}, timeout=10).raise_for_status()
    assert abs(_price(sim, Asset.SOL) / oracle - 1) < Decimal("0.001")


def test_lst_rate_depegs_one_lst(sim: RunningSim) -> None:
    try:
        reply = httpx.post(f"{sim.base_url}/sim/asgard/lst-rate", json={"asset": "jitoSOL", "factor": "0.95"},
                           timeout=10).json()
        rate = _price(sim, Asset.JITOSOL) / _price(sim, Asset.SOL)
        assert abs(rate / Decimal(reply["redemption_rate"]) - Decimal("0.95")) < Decimal("0.001")
        jup = _price(sim, Asset.JUPSOL) / _price(sim, Asset.SOL)
        assert abs(jup - 1) < Decimal("0.001")  # another LST keeps its redemption rate (1 at the sim's start)
    finally:
        httpx.post(f"{sim.base_url}/sim/asgard/lst-rate", json={"asset": "jitoSOL", "factor": "1"},
                   timeout=10).raise_for_status()


@pytest.mark.parametrize("body", [{"asset": "SOL", "factor": "0.9"}, {"asset": "jitoSOL", "factor": "0"},
                                  {"asset": "jitoSOL", "factor": "0.9", "extra": 1}])
def test_lst_rate_refuses_bad_input(sim: RunningSim, body: dict[str, object]) -> None:
    assert httpx.post(f"{sim.base_url}/sim/asgard/lst-rate", json=body, timeout=10).status_code == 422
