"""The reconciler's venue side: what the venues hold for a user (VenueTruthReader) and the one Hyperliquid order
no position owns (AccountShortTrader: buying back a short nobody explains, restoring a hedge closed outside the
bot). Closing a position's own legs goes through the LongVenue / ShortVenue the workflows use."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dnbot.adapters.asgard.client import AsgardClient
from dnbot.adapters.asgard.references import LongReference
from dnbot.adapters.hyperliquid.info import HyperliquidInfo
from dnbot.adapters.hyperliquid.positions import AccountFills, position_key
from dnbot.domain.reconcile import VenueLong, VenueTruth

if TYPE_CHECKING:  # the venue truth reads need no SDK; only the trader's venue does
    from dnbot.adapters.hyperliquid.trading import HyperliquidShortVenue


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def _is_liquidation(fill: dict[str, Any]) -> bool:
    """Hyperliquid marks a liquidation fill with a `liquidation` object (the simulator: dir "Liquidation")."""
    return bool(fill.get("liquidation")) or str(fill.get("dir", "")).lower() == "liquidation"


class VenueTruthAdapter:
    """Implements VenueTruthReader from Hyperliquid's clearinghouseState + userFills and Asgard's /positions."""

    def __init__(self, info: HyperliquidInfo, asgard: AsgardClient,
                 long_references: Callable[[str], dict[str, LongReference]],
                 solana_address_of: Callable[[str], str | None], evm_address_of: Callable[[str], str]) -> None:
        self._info = info
        self._asgard = asgard
        self._long_references = long_references
        self._solana_address_of = solana_address_of
        self._evm_address_of = evm_address_of

    def venue_truth(self, user_id: str, position_ids: list[str], since: datetime) -> VenueTruth:
        address = self._evm_address_of(user_id)
        account_short = -self._info.sol_position_size(address)
        fills = AccountFills(self._info.user_fills(address), self._info.coin)
        by_key = fills.shorts()  # every fill up to now: the short each position's own fills leave open
        shorts = {pid: by_key.get(position_key(pid), Decimal(0)) for pid in position_ids}
        since_ms = int(since.timestamp() * 1000)
        liquidated = any(_is_liquidation(fill) and int(fill.get("time", 0)) >= since_ms for fill in fills.rows)
        return VenueTruth(account_short, shorts, self._longs(user_id), liquidated)

    def _longs(self, user_id: str) -> tuple[VenueLong, ...]:
        references = self._long_references(user_id)
        by_pda = {ref.pda: pid for pid, ref in references.items() if ref.pda}
        by_signature = {ref.open_signature: pid for pid, ref in references.items() if ref.open_signature}
        wallets = {ref.wallet for ref in references.values()}
        own = self._solana_address_of(user_id)
        if own:
            wallets.add(own)
        longs: list[VenueLong] = []
        for wallet in sorted(wallets):
            for record in self._asgard.positions(wallet):
                pda = str(record.get("positionPda", ""))
                pid = by_pda.get(pda) or by_signature.get(str(record.get("openTxHash") or ""))
                size = _decimal(record.get("tokenAAmountUICurrent") or record.get("tokenAAmountUIEntry"))
                longs.append(VenueLong(pda, pid, size, record.get("state") == 0,
                                       bool(record.get("liquidationEvents"))))
        return tuple(longs)


def account_cloid(user_id: str, key: str) -> str:
    """A client order id no position owns (its first 12 bytes name no position of the bot)."""
    return "0x" + hashlib.sha256(f"reconcile:{user_id}:{key}".encode()).hexdigest()[:32]


class HyperliquidAccountTrader:
    """Implements AccountShortTrader through the short venue's agent wallet and order path."""

    def __init__(self, venue: HyperliquidShortVenue, evm_address_of: Callable[[str], str]) -> None:
        self._venue = venue
        self._evm_address_of = evm_address_of

    def trade_account_short(self, user_id: str, change_sol: Decimal, *, reduce_only: bool, key: str) -> Decimal:
        user = self._evm_address_of(user_id)
        cloid = account_cloid(user_id, key)
        fills = self._venue.info.fills_with_cloid(user, cloid)
        if not fills:  # the same key never trades twice (a retry after a lost answer finds its fills)
            self._venue._order(self._venue.ensure_agent(user_id), is_buy=change_sol < 0, size=abs(change_sol),
                               reduce_only=reduce_only, cloid=cloid)
            fills = self._venue.info.fills_with_cloid(user, cloid)
        realized = sum((_decimal(f.get("closedPnl")) - _decimal(f.get("fee")) for f in fills), Decimal(0))
        return realized.quantize(Decimal("0.01"))
