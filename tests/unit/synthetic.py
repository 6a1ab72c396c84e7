"""A tiny recorded-data directory with KNOWN numbers (same layout as the vendored copy), so a backtest's figures
can be checked by hand. Real recorded data is used elsewhere; this exists because exact expectations need
exact inputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

START = datetime(2025, 3, 1, tzinfo=UTC)


def write_recorded(root: Path, hours: int, *, funding_hourly: Callable[[int], str] = lambda i: "0.0000125",
                   price: Callable[[int], tuple[str, str, str, str]] = lambda i: ("100", "100", "100", "100"),
                   sol_supply_pct: str = "5", usdc_borrow_pct: str = "8", staking_apy: str = "0.07",
                   protocol: str = "kamino", skip_rate_hours: frozenset[int] = frozenset()) -> Path:
    """`hours` hours from START. Rates in percent for Asgard (as recorded), staking as a fraction."""
    (root / "hyperliquid").mkdir(parents=True, exist_ok=True)
    (root / "asgard" / "rates_hourly").mkdir(parents=True, exist_ok=True)
    (root / "asgard" / "staking_hourly").mkdir(parents=True, exist_ok=True)
    (root / "binance").mkdir(parents=True, exist_ok=True)
    moments = [START + timedelta(hours=i) for i in range(hours + 1)]
    funding = [{"coin": "SOL", "fundingRate": funding_hourly(i), "premium": "0",
                "time": int(m.timestamp() * 1000) + 37} for i, m in enumerate(moments)]
    (root / "hyperliquid" / "sol_funding_hourly.json").write_text(json.dumps(funding))

    def bucket(m: datetime) -> str:
        return m.strftime("%Y-%m-%dT%H:00:00.000Z")

    kept = [(i, m) for i, m in enumerate(moments) if i not in skip_rate_hours]
    sol = [{"hourBucket": bucket(m), "avgLendingRate": float(sol_supply_pct), "avgBorrowingRate": 7.0} for _, m in kept]
    usdc = [{"hourBucket": bucket(m), "avgLendingRate": 4.0, "avgBorrowingRate": float(usdc_borrow_pct)}
            for _, m in kept]
    (root / "asgard" / "rates_hourly" / f"{protocol}_sol.json").write_text(json.dumps(sol[::-1]))
    (root / "asgard" / "rates_hourly" / f"{protocol}_usdc.json").write_text(json.dumps(usdc[::-1]))
    staking = [{"hourBucket": bucket(m), "avgApy": float(staking_apy)} for _, m in kept]
    (root / "asgard" / "staking_hourly" / "jitosol.json").write_text(json.dumps(staking[::-1]))
    rows = ["timestamp,open,high,low,close,volume"]
    for i, m in enumerate(moments):
        o, h, low, c = price(i)
        rows.append(f"{m:%Y-%m-%d %H:%M:%S},{o},{h},{low},{c},1")
    (root / "binance" / "SOLUSDT_1h.csv").write_text("\n".join(rows) + "\n")
    return root


def d(text: str | int) -> Decimal:
    return Decimal(str(text))
