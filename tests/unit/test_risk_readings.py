"""The venue-data risk readings' arithmetic (dnbot.domain.risk): an LST's depeg from one venue's prices, the long's
liquidation threshold as the venue applies it, and the distance to liquidation at other values and debts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dnbot.domain.rebalance import long_drop
from dnbot.domain.risk import liquidation_threshold, long_drop_to_liquidation, lst_depeg

D = Decimal


def test_depeg_is_the_venue_rate_below_the_fair_rate_never_negative() -> None:
    # jitoSOL at 1.15 SOL fair; Asgard prices it at 1.1155 x SOL: 3 % under
    assert lst_depeg(D("172.0"), D("150"), D("1.15")) == pytest.approx(D("0.0028985"), abs=D("0.000001"))
    assert lst_depeg(D("167.325"), D("150"), D("1.15")) == D("0.03")
    assert lst_depeg(D("180"), D("150"), D("1.15")) == 0  # above its fair value: no depeg
    with pytest.raises(ValueError):
        lst_depeg(D(1), D(0), D(1))


def test_threshold_and_drop_round_trip_through_the_venues_reading() -> None:
    value, debt, threshold = D(3000), D(2000), D("0.85")
    drop = long_drop(value, debt, threshold)  # 1 - 2000 / 2550
    assert drop == 1 - D(2000) / D(2550)
    assert liquidation_threshold(drop, value, debt) == pytest.approx(threshold)
    # the same reading as the health factor's (HF = value x LT / debt)
    assert drop == pytest.approx(long_drop_to_liquidation(value * threshold / debt))
    assert liquidation_threshold(D(1), value, debt) is None and liquidation_threshold(drop, value, D(0)) is None
    assert long_drop(D(1000), D(2000), threshold) == 0  # already past liquidation
