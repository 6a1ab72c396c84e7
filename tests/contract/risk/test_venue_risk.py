from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from dnbot.adapters.risk import VenueRiskReader, margin_from_clearinghouse, short_from_clearinghouse
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Position, PositionStatus
from dnbot.ports import TransientVenueError

NOW = datetime(2026, 1, 1, tzinfo=UTC)
POSITION = Position("p1", "u1", Asset.SOL, Protocol.KAMINO, Decimal(3), Decimal(1000), PositionStatus.OPEN, NOW, NOW)
STATE = {  # the shape of a real clearinghouseState (tests/fixtures/recorded/.../test_get_user_state.yaml)
    "marginSummary": {"accountValue": "1000.0", "totalNtlPos": "1500.0", "totalRawUsd": "2500.0",
                      "totalMarginUsed": "500.0"},
    "crossMaintenanceMarginUsed": "37.5",
    "assetPositions": [{"type": "oneWay", "position": {"coin": "SOL", "szi": "-10.0", "liquidationPx": "251.3"}}],
}


@dataclass
class Health:
    """A LongReading: Asgard's /refresh-positions of one long."""

    health_factor: Decimal | None
    drop_to_liquidation: Decimal = Decimal("0.3")
    size: Decimal = Decimal(10)
    debt_usdc: Decimal = Decimal("1000.21")
    value_usd: Decimal = Decimal("1500.4")


def test_margin_ratio_and_liquidation_price_from_clearinghouse_state() -> None:
    assert margin_from_clearinghouse(STATE) == (Decimal("0.0375"), Decimal("251.3"))
    empty = {"marginSummary": {"accountValue": "0"}, "crossMaintenanceMarginUsed": "0", "assetPositions": []}
    assert margin_from_clearinghouse(empty) == (None, None)


def test_readings_combine_both_venues_and_unknowns_stay_none() -> None:
    def down(_: str) -> dict[str, Any]:
        raise TransientVenueError("502")

    reader = VenueRiskReader(lambda u, p: Health(Decimal("1.8")), lambda a: STATE, lambda u: "0xabc",
                             lambda: Decimal(150), lambda: Decimal("150.2"))
    readings = reader.readings(POSITION)
    assert readings.health_factor == Decimal("1.8") and readings.margin_ratio == Decimal("0.0375")
    assert readings.short_liquidation_price == Decimal("251.3")
    assert (readings.oracle_price_usd, readings.long_venue_sol_price_usd) == (Decimal(150), Decimal("150.2"))
    # the long's value and debt now are Asgard's (the debt with its borrow interest), not the ledger's at the open
    assert (readings.long_value_usd, readings.long_debt_usd) == (Decimal("1500.4"), Decimal("1000.21"))
    blind = VenueRiskReader(lambda u, p: None, down, lambda u: "0xabc", lambda: Decimal(150), lambda: Decimal(150))
    assert blind.readings(POSITION).margin_ratio is None and blind.readings(POSITION).health_factor is None
    assert blind.readings(POSITION).long_debt_usd is None and blind.readings(POSITION).long_value_usd is None


def test_the_short_is_valued_at_the_price_hyperliquid_itself_uses() -> None:
    """positionValue / |szi| is Hyperliquid's mark: on a recorded real clearinghouseState the SOL position's
    unrealizedPnl is exactly its size x (that price - entryPx), the figure its account value holds."""
    cassette = Path(__file__).parents[2] / ("fixtures/recorded/hyperliquid/sdk_recordings/tests/cassettes/info_test/"
                                            "test_get_user_state.yaml")
    state = json.loads(yaml.safe_load(cassette.read_text())["interactions"][0]["response"]["body"]["string"])
    sol = next(p["position"] for p in state["assetPositions"] if p["position"]["coin"] == "SOL")
    read = short_from_clearinghouse(state)
    assert read is not None
    size, mark = read
    assert size == abs(Decimal(sol["szi"])) and mark * Decimal(sol["szi"]) == Decimal(sol["positionValue"])
    assert (Decimal(sol["szi"]) * (mark - Decimal(sol["entryPx"]))).quantize(Decimal("0.000001")) == Decimal(
        sol["unrealizedPnl"])
    assert short_from_clearinghouse(STATE) is None  # no positionValue: the oracle stands in
    assert short_from_clearinghouse(state, coin="DOGE") is None
