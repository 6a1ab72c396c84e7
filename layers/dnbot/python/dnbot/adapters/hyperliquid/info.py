"""Hyperliquid's public /info reads, as domain values.

Plain HTTP (httpx) rather than the SDK's `Info`: the rates poller and the strategy tick run in the light Lambda
layer, which ships without the SDK and eth-account (their import alone costs ~0.4 s of cold start), and these
reads are a single documented POST each. The trading side (`trading.py`) uses the SDK.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from dnbot.domain.rates import FundingQuote
from dnbot.ports import ShortMargin, TransientVenueError, VenueRejected

COIN = "SOL"
HOUR_MS = 3_600_000
FILLS_REUSE_SECONDS = 30.0  # how long a userFills read serves the funding split (one reconcile/tick cycle)


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


class HyperliquidInfo:
    """Implements FundingSource; also the account reads (balances, margin) the other adapters need."""

    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None, timeout_seconds: float = 10.0,
                 now_ms: Callable[[], int] = _now_ms, coin: str = COIN) -> None:
        self.coin = coin  # SOL; another coin only to read the recorded real responses in contract tests
        self._http = httpx.Client(base_url=base_url.rstrip("/"), transport=transport, timeout=timeout_seconds)
        self._now_ms = now_ms
        self._fills: dict[str, tuple[float, list[dict[str, Any]]]] = {}  # address -> (monotonic read time, rows)
        self._fills_generation = 0  # bumped by forget_fills: a read that overlapped an order is not kept

    def close(self) -> None:
        self._http.close()

    def post(self, body: dict[str, Any]) -> Any:
        try:
            response = self._http.post("/info", json=body)
        except httpx.HTTPError as error:
            raise TransientVenueError(f"Hyperliquid /info {body.get('type')}: {error}") from error
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientVenueError(f"Hyperliquid /info {body.get('type')}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise VenueRejected(f"Hyperliquid /info {body.get('type')}: {response.status_code} {response.text[:200]}")
        return response.json()

    # --- FundingSource ---------------------------------------------------------------------------------------

    def sol_funding(self) -> FundingQuote:
        meta, contexts = self.post({"type": "metaAndAssetCtxs"})
        names = [asset["name"] for asset in meta["universe"]]
        if self.coin not in names:
            raise VenueRejected(f"Hyperliquid lists no {self.coin} perpetual")
        context = contexts[names.index(self.coin)]
        return FundingQuote(
            funding_hourly=Decimal(context["funding"]),
            predicted_funding_hourly=self.predicted_funding_hourly(),
            mark_price=Decimal(context["markPx"]),
            oracle_price=Decimal(context["oraclePx"]),
            open_interest=Decimal(context["openInterest"]) if context.get("openInterest") else None,
        )

    def predicted_funding_hourly(self) -> Decimal | None:
        """Hyperliquid's own next-hour prediction (`HlPerp` in predictedFundings); None if it has none."""
        for coin, venues in self.post({"type": "predictedFundings"}):
            if coin != self.coin:
                continue
            for venue, prediction in venues:
                if venue == "HlPerp" and prediction is not None:
                    rate = Decimal(prediction["fundingRate"])
                    interval = int(prediction.get("fundingIntervalHours") or 1)
                    return rate / interval  # Hyperliquid's is hourly already (interval 1)
        return None

    def funding_history_hourly(self, hours: int) -> list[Decimal]:
        start = self._now_ms() - hours * HOUR_MS
        rows = self.post({"type": "fundingHistory", "coin": self.coin, "startTime": start})
        rows = sorted(rows, key=lambda row: int(row["time"]))
        return [Decimal(row["fundingRate"]) for row in rows][-hours:]

    # --- accounts ------------------------------------------------------------------------------------------

    def clearinghouse_state(self, address: str) -> dict[str, Any]:
        state: dict[str, Any] = self.post({"type": "clearinghouseState", "user": address})
        return state

    def account_value_usd(self, address: str) -> Decimal:
        return Decimal(self.clearinghouse_state(address)["marginSummary"]["accountValue"])

    def withdrawable_usd(self, address: str) -> Decimal:
        return Decimal(self.clearinghouse_state(address)["withdrawable"])

    def short_margin(self, address: str) -> ShortMargin:
        """The account as cross margin sees it, from one clearinghouseState: its value, its whole SOL short, the
        mark price that value is marked at (the position's value / its size) and the short's liquidation price."""
        state = self.clearinghouse_state(address)
        value = Decimal(str(state.get("marginSummary", {}).get("accountValue", "0")))
        for entry in state.get("assetPositions", []):
            position = entry.get("position", {})
            size = Decimal(str(position.get("szi", "0")))
            if position.get("coin") == self.coin and size < 0:
                liquidation = position.get("liquidationPx")
                return ShortMargin(value, -size, Decimal(str(position["positionValue"])) / -size,
                                   None if liquidation in (None, "") else Decimal(str(liquidation)))
        return ShortMargin(value, Decimal(0), self.mid_price(), None)

    def sol_position_size(self, address: str) -> Decimal:
        """Signed SOL size (negative = short); 0 without a position."""
        for entry in self.clearinghouse_state(address).get("assetPositions", []):
            position = entry.get("position", {})
            if position.get("coin") == self.coin:
                return Decimal(position["szi"])
        return Decimal(0)

    def deposits_since(self, address: str, start_ms: int) -> list[tuple[int, str, Decimal]]:
        """Bridge deposits credited to the account since `start_ms`: (time ms, ledger hash, USDC)."""
        rows = self.post({"type": "userNonFundingLedgerUpdates", "user": address, "startTime": start_ms})
        return [(int(row["time"]), str(row["hash"]), Decimal(str(row["delta"]["usdc"]))) for row in rows
                if row.get("delta", {}).get("type") == "deposit"]

    def user_funding_usd(self, address: str, start_ms: int, end_ms: int | None = None) -> Decimal:
        """SOL funding received (+) or paid (-) between two times."""
        body: dict[str, Any] = {"type": "userFunding", "user": address, "startTime": start_ms}
        if end_ms is not None:
            body["endTime"] = end_ms
        return sum((Decimal(row["delta"]["usdc"]) for row in self.post(body)
                    if row.get("delta", {}).get("coin") == self.coin), Decimal(0))

    def mid_price(self) -> Decimal:
        return Decimal(self.post({"type": "allMids"})[self.coin])

    def sz_decimals(self) -> int:
        for asset in self.post({"type": "meta"})["universe"]:
            if asset["name"] == self.coin:
                return int(asset["szDecimals"])
        raise VenueRejected(f"Hyperliquid lists no {self.coin} perpetual")

    def asset_index(self) -> int:
        names = [asset["name"] for asset in self.post({"type": "meta"})["universe"]]
        return names.index(self.coin)

    def user_fills(self, address: str, *, reuse: bool = False) -> list[dict[str, Any]]:
        """The account's userFills. Every read is kept FILLS_REUSE_SECONDS; `reuse=True` (only the funding split)
        takes that read instead of asking again, so the reconciler's settle step reuses its venue truth's read.
        Reads that guard an order's idempotency never reuse, and any order drops what is kept (forget_fills)."""
        key = address.lower()
        kept = self._fills.get(key)
        if reuse and kept is not None and time.monotonic() - kept[0] < FILLS_REUSE_SECONDS:
            return kept[1]
        generation, read_at = self._fills_generation, time.monotonic()
        rows: list[dict[str, Any]] = self.post({"type": "userFills", "user": address})
        if generation == self._fills_generation:
            self._fills[key] = (read_at, rows)
        return rows

    def forget_fills(self) -> None:
        """An order was sent (or may have been): no kept userFills read is reused after it."""
        self._fills_generation += 1
        self._fills.clear()

    def fills_with_cloid(self, address: str, cloid: str) -> list[dict[str, Any]]:
        return [fill for fill in self.user_fills(address) if fill.get("cloid") == cloid]
