"""Typed, hour-keyed series from the recorded venue data.

The directory layout is the one of the project's vendored copy (`dnbot/data/recorded/`, see its SOURCES.md):
`hyperliquid/sol_funding_hourly.json`, `asgard/rates_hourly/{protocol}_{sol,usdc}.json`,
`asgard/staking_hourly/jitosol.json`, `asgard/snapshots_*/`, `binance/SOLUSDT_1h.csv`. Each file may be
plain or gzip-compressed (`.gz`). Units are normalized here, once: every APY becomes a decimal fraction
(Asgard's rates are recorded in percent), every rate keeps its period in its name, money is Decimal.

No gap is filled here: a missing hour is absent from its series. Callers decide to skip or carry forward.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from dnbot.domain.assets import Asset, Protocol

HOUR = timedelta(hours=1)
_PERCENT = Decimal(100)


def default_data_dir() -> Path:
    """The recorded data shipped inside the package."""
    return Path(str(resources.files("dnbot") / "data" / "recorded"))


def hour_floor(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: use timezone-aware UTC")
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass(frozen=True, slots=True)
class Candle:
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


@dataclass(frozen=True, slots=True)
class LendingPoint:
    """One reserve's hourly average rates."""

    supply_apy: Decimal
    borrow_apy: Decimal


@dataclass
class RecordedData:
    """Lazily loaded series; each property reads its file once."""

    root: Path = field(default_factory=default_data_dir)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"no recorded data directory at {self.root}")

    # --- file access ---------------------------------------------------------------------------------

    def _open_text(self, relative: str) -> str | None:
        plain = self.root / relative
        if plain.is_file():
            return plain.read_text(encoding="utf-8-sig")
        packed = self.root / (relative + ".gz")
        if packed.is_file():
            return gzip.decompress(packed.read_bytes()).decode("utf-8-sig")
        return None

    def _json(self, relative: str) -> Any:
        text = self._open_text(relative)
        return None if text is None else json.loads(text)

    def _snapshot_json(self, name: str) -> Any:
        for folder in sorted(self.root.glob("asgard/snapshots_*"), reverse=True):
            found = self._json(f"{folder.relative_to(self.root)}/{name}")
            if found is not None:
                return found
        return None

    # --- Hyperliquid ------------------------------------------------------------------------------------

    @cached_property
    def funding_hourly(self) -> dict[datetime, Decimal]:
        """SOL-PERP funding per hour (positive = longs pay shorts), keyed by the hour it was paid."""
        rows = self._json("hyperliquid/sol_funding_hourly.json") or []
        return {hour_floor(_from_ms(int(r["time"]))): Decimal(str(r["fundingRate"])) for r in rows}

    @cached_property
    def funding_premium(self) -> dict[datetime, Decimal]:
        rows = self._json("hyperliquid/sol_funding_hourly.json") or []
        return {hour_floor(_from_ms(int(r["time"]))): Decimal(str(r["premium"])) for r in rows}

    @cached_property
    def sol_daily_candles(self) -> dict[datetime, Candle]:
        rows = self._json("hyperliquid/sol_candles_1d.json") or []
        return {
            _from_ms(int(r["t"])): Candle(Decimal(r["o"]), Decimal(r["h"]), Decimal(r["l"]), Decimal(r["c"]))
            for r in rows
        }

    @cached_property
    def predicted_fundings(self) -> Any:
        """A real `predictedFundings` response, as recorded (used for its shape by the simulator)."""
        for folder in sorted(self.root.glob("hyperliquid/snapshots_*"), reverse=True):
            found = self._json(f"{folder.relative_to(self.root)}/predicted_fundings.json")
            if found is not None:
                return found
        return None

    # --- prices ---------------------------------------------------------------------------------------------

    @cached_property
    def sol_hourly_candles(self) -> dict[datetime, Candle]:
        """Binance SOLUSDT hourly OHLC, keyed by the hour's open time (UTC)."""
        text = self._open_text("binance/SOLUSDT_1h.csv")
        if text is None:
            return {}
        candles: dict[datetime, Candle] = {}
        for row in csv.DictReader(io.StringIO(text)):
            at = datetime.fromisoformat(row["timestamp"]).replace(tzinfo=UTC)
            candles[at] = Candle(Decimal(row["open"]), Decimal(row["high"]), Decimal(row["low"]),
                                 Decimal(row["close"]))
        return candles

    # --- Asgard -------------------------------------------------------------------------------------------

    def lending_hourly(self, protocol: Protocol, reserve: str) -> dict[datetime, LendingPoint]:
        """Hourly supply/borrow APY of one reserve ('sol' or 'usdc') on one protocol; {} if not recorded."""
        return self._lending_cache(protocol.label, reserve)

    def _lending_cache(self, protocol_label: str, reserve: str) -> dict[datetime, LendingPoint]:
        key = f"{protocol_label}_{reserve}"
        cache: dict[str, dict[datetime, LendingPoint]] = self.__dict__.setdefault("_lending", {})
        if key not in cache:
            rows = self._json(f"asgard/rates_hourly/{key}.json") or []
            cache[key] = {
                _parse_iso(r["hourBucket"]): LendingPoint(
                    Decimal(str(r["avgLendingRate"])) / _PERCENT, Decimal(str(r["avgBorrowingRate"])) / _PERCENT
                )
                for r in rows
            }
        return cache[key]

    def recorded_protocols(self, reserve: str) -> list[Protocol]:
        return [p for p in Protocol if self.lending_hourly(p, reserve)]

    def staking_hourly(self, asset: Asset) -> dict[datetime, Decimal]:
        """Hourly staking APY of an LST (decimal fraction); {} where only a snapshot exists."""
        if asset is not Asset.JITOSOL:
            return {}
        return self._jitosol_staking

    @cached_property
    def _jitosol_staking(self) -> dict[datetime, Decimal]:
        rows = self._json("asgard/staking_hourly/jitosol.json") or []
        return {_parse_iso(r["hourBucket"]): Decimal(str(r["avgApy"])) for r in rows}

    @cached_property
    def staking_snapshot(self) -> dict[Asset, Decimal]:
        """Staking APY per LST from the latest recorded `current-staking-rates` snapshot (by mint)."""
        payload = self._snapshot_json("current-staking-rates.json") or {"data": []}
        by_mint = {row["address"]: Decimal(str(row["apy"])) for row in payload.get("data", [])}
        return {asset: by_mint[asset.token.mint] for asset in Asset if asset.is_lst and asset.token.mint in by_mint}

    @cached_property
    def token_config(self) -> dict[str, Any]:
        return self._snapshot_json("token_config.json") or {}

    @cached_property
    def rates_snapshot(self) -> list[dict[str, Any]]:
        """Rows of the recorded `current-rates` snapshot: {protocol, address, lendingRate, borrowingRate} (%)."""
        payload = self._snapshot_json("current-rates.json") or {"data": []}
        return list(payload.get("data", []))

    # --- spans --------------------------------------------------------------------------------------------

    def hours(self, start: datetime | None = None, end: datetime | None = None) -> Iterator[datetime]:
        """Every hour from start to end inclusive (defaults: the funding series' span)."""
        keys = sorted(self.funding_hourly)
        if not keys:
            return
        current = hour_floor(start) if start else keys[0]
        last = hour_floor(end) if end else keys[-1]
        while current <= last:
            yield current
            current += HOUR
