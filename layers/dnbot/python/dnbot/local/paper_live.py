"""`dnbot local --live`: paper venues priced from today's public market data.

The rates come from the production read adapters pointed at the venues' public endpoints (Hyperliquid's /info,
Asgard's markets; no keys, nothing signed), so the strategy decides on the real market; the legs it opens are
paper ones (PaperVenues' bookkeeping) filled at Hyperliquid's live SOL oracle price, and a paper short accrues
the live hourly funding. Nothing reaches a venue's trading API.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from dnbot.domain.pnl import FundingShare
from dnbot.local.paper import FUNDING_QUANTUM, PaperVenues
from dnbot.ports import FundingSource
from dnbot.sim.world import SimWorld

PRICE_TTL_SECONDS = 5.0  # one /info read serves a whole workflow step's fills
HYPERLIQUID_URL = "https://api.hyperliquid.xyz"
ASGARD_URL = "https://v2-ultra-edge.asgard.finance/margin-trading"


class LivePaperVenues(PaperVenues):
    """PaperVenues whose price and funding are the live ones (`funding`: the Hyperliquid public reader)."""

    def __init__(self, world: SimWorld, funding: FundingSource, now: Callable[[], datetime],
                 paper_capital_usd: Decimal = Decimal(10_000), monotonic: Callable[[], float] = time.monotonic,
                 ) -> None:
        super().__init__(world, paper_capital_usd)
        self._funding = funding
        self._now = now
        self._monotonic = monotonic
        self._cached: tuple[float, Decimal] | None = None
        self._price_lock = threading.Lock()

    def _price(self) -> Decimal:
        with self._price_lock:
            if self._cached is None or self._monotonic() - self._cached[0] > PRICE_TTL_SECONDS:
                self._cached = (self._monotonic(), self._funding.sol_funding().oracle_price)
            return self._cached[1]

    def _funding_shares(self, user_id: str, position_id: str, since: datetime,
                        until: datetime | None) -> list[FundingShare]:
        """Each whole hour held: size x the current price x that hour's published rate (Hyperliquid's funding
        history; the hour's own price is not fetched, the current one stands in)."""
        held = self._shorts.get((user_id, position_id)) or self._closed_shorts.get((user_id, position_id))
        if held is None:
            return []
        first = since.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        hours = int((self._now() - first) // timedelta(hours=1)) + 1
        if hours <= 0:
            return []
        rates = self._funding.funding_history_hourly(hours)  # oldest first: the hour `first` onwards
        price, shares = self._price(), []
        for index, rate in enumerate(rates):
            at = first + timedelta(hours=index)
            if until is not None and at > until:
                break
            paid = (held.size_sol * price * rate).quantize(FUNDING_QUANTUM)
            shares.append(FundingShare(at, position_id, paid, paid, held.size_sol, rate))
        return shares
