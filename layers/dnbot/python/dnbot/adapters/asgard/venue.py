"""The long leg through Asgard: implements dnbot.ports.LongVenue and dnbot.ports.LendingMarketSource.

Open: /markets (banks of the asset x protocol) -> /create-position (USDC collateral, direction LONG) -> the
user's signer validates and signs each returned transaction -> /submit-create-position-tx. Close likewise with
/close-position -> /submit-close-position-tx. Before a signed transaction is submitted its signature (the
Solana transaction id, deterministic for ed25519) is stored with the position's reference, so that after an
ambiguous submit `find_long` recognises the position by its `openTxHash` even though Asgard's API carries no
client id.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from typing import Any, Protocol

from solders.transaction import VersionedTransaction

from dnbot.adapters.asgard.client import AsgardClient
from dnbot.domain.assets import USDC, Asset
from dnbot.domain.assets import Protocol as LendingProtocol
from dnbot.domain.rates import LendingMarket
from dnbot.ports import LongFill, LongOpenRequest, SolanaTransactionSigner, VenueRejected, WalletDirectory

DIRECTION_LONG = 0
COLLATERAL_SHORT_TOKEN = 1  # fund a long with the debt token: USDC


@dataclass(frozen=True, slots=True)
class LongReference:
    """Where a dnbot position's long lives at Asgard, and the signatures of its transactions."""

    wallet: str
    protocol: int
    pda: str
    open_signature: str | None = None
    close_signature: str | None = None


class LongReferenceStore(Protocol):
    """(user, position) -> LongReference. In Lambda it must be durable (DynamoDB), as reconciliation runs in
    another invocation than the open; in-memory for tests and `dnbot local`."""

    def get_reference(self, user_id: str, position_id: str) -> LongReference | None: ...

    def put_reference(self, user_id: str, position_id: str, reference: LongReference) -> None: ...


class InMemoryLongReferences:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], LongReference] = {}
        self._lock = threading.Lock()

    def get_reference(self, user_id: str, position_id: str) -> LongReference | None:
        with self._lock:
            return self._items.get((user_id, position_id))

    def put_reference(self, user_id: str, position_id: str, reference: LongReference) -> None:
        with self._lock:
            self._items[(user_id, position_id)] = reference


@dataclass(frozen=True, slots=True)
class LongHealth:
    """Asgard's /refresh-positions reading of one long."""

    drop_to_liquidation: Decimal  # Asgard's healthFactor / 100: the price drop the collateral can take
    health_factor: Decimal | None  # collateral x LT / debt (1 = liquidation); None without debt
    size: Decimal  # assetsQt of the long token
    debt_usdc: Decimal  # liabsQt of USDC
    liquidated: bool  # Asgard reports liquidation events for it


def _d(value: Any, default: str = "0") -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(default)


def signature_of(signed_tx_base64: str) -> str:
    """The transaction id: the fee payer's signature, first in the list."""
    return str(VersionedTransaction.from_bytes(base64.b64decode(signed_tx_base64)).signatures[0])


class AsgardLongVenue:
    def __init__(self, client: AsgardClient, signer: SolanaTransactionSigner, wallet_of: Callable[[str], str],
                 references: LongReferenceStore | None = None, *, slippage_bps: int = 50,
                 jito_tip_lamports: int = 100_000,
                 staking_apy_of: Callable[[Asset], Decimal | None] | None = None) -> None:
        """`wallet_of(user_id)` is the user's Solana address (e.g. from the WalletDirectory);
        `staking_apy_of` fills an LST's staking APY when /markets does not carry it."""
        self.client = client
        self.signer = signer
        self.wallet_of = wallet_of
        self.references: LongReferenceStore = references or InMemoryLongReferences()
        self.slippage_bps = slippage_bps
        self.jito_tip_lamports = jito_tip_lamports
        self.staking_apy_of = staking_apy_of

    # --- LendingMarketSource ---

    def lending_markets(self) -> list[LendingMarket]:
        return parse_markets(self.client.markets(), self.staking_apy_of)

    def sol_price_usd(self) -> Decimal:
        return _d(self.client.token_metadata(Asset.SOL.token.mint)["price"])

    # --- LongVenue ---

    def _banks(self, asset: Asset, protocol: int) -> tuple[str, str]:
        for strategy in self.client.markets().get("strategies", {}).values():
            if strategy.get("tokenAMint") != asset.token.mint or strategy.get("tokenBMint") != USDC.mint:
                continue
            for source in _preferred_sources(strategy.get("liquiditySources", [])):
                if source.get("lendingProtocol") == protocol and source.get("isActive", True):
                    return str(source["tokenABank"]), str(source["tokenBBank"])
        raise VenueRejected(f"Asgard has no active {asset.value}/USDC market on protocol {protocol}")

    def _sign(self, user_id: str, transactions: list[str]) -> list[str]:
        return [self.signer.sign_transaction(user_id, tx) for tx in transactions]

    def open_long(self, request: LongOpenRequest) -> LongFill:
        existing = self.find_long(request.user_id, request.position_id)
        if existing is not None:
            return existing  # a retry of an open that landed: idempotent by position id
        wallet = self.wallet_of(request.user_id)
        token_a_bank, token_b_bank = self._banks(request.asset, request.protocol)
        amount_native = int((request.collateral_usd.scaleb(USDC.decimals)).to_integral_value(ROUND_DOWN))
        built = self.client.create_position({
            "protocol": request.protocol, "tokenABank": token_a_bank, "tokenBBank": token_b_bank,
            "direction": DIRECTION_LONG, "collateralType": COLLATERAL_SHORT_TOKEN,
            "collateralAmountNative": amount_native, "collateralMint": USDC.mint, "collateralUnitPrice": 1.0,
            "leverage": float(request.leverage), "jitoTipLamport": self.jito_tip_lamports,
            "slippageBps": self.slippage_bps, "walletPubkey": wallet, "useDirectRoute": False,
        })
        signed = self._sign(request.user_id, list(built["signedTxs"]))
        self.references.put_reference(request.user_id, request.position_id, LongReference(
            wallet, request.protocol, str(built.get("positionPDA", "")), open_signature=signature_of(signed[0])))
        record = self.client.submit_create_position({**built, "signedTxs": signed})
        if record.get("positionPda"):
            reference = self.references.get_reference(request.user_id, request.position_id)
            assert reference is not None
            self.references.put_reference(request.user_id, request.position_id,
                                          replace(reference, pda=str(record["positionPda"])))
        return fill_from_record(record)

    def _record(self, user_id: str, position_id: str) -> tuple[LongReference, dict[str, Any]] | None:
        reference = self.references.get_reference(user_id, position_id)
        if reference is None:
            return None
        for record in self.client.positions(reference.wallet):
            if (reference.pda and record.get("positionPda") == reference.pda) or (
                    reference.open_signature and record.get("openTxHash") == reference.open_signature):
                return reference, record
        return None

    def find_long(self, user_id: str, position_id: str) -> LongFill | None:
        found = self._record(user_id, position_id)
        if found is None or found[1].get("state") != 0:
            return None
        return fill_from_record(found[1])

    def close_long(self, user_id: str, position_id: str) -> Decimal:
        """Idempotent: a retry after our own close landed (its answer lost) returns that close's proceeds."""
        found = self._record(user_id, position_id)
        if found is None:
            return Decimal(0)
        reference, record = found
        if record.get("state") != 0:
            ours = reference.close_signature is not None and record.get("closeTxHash") == reference.close_signature
            return _d(record.get("equityWithdrawnUI")) if ours else Decimal(0)
        built = self.client.close_position({
            "protocol": reference.protocol, "walletPubkey": reference.wallet,
            "positionPDA": record["positionPda"], "collateralType": COLLATERAL_SHORT_TOKEN,
            "jitoTipLamport": self.jito_tip_lamports, "slippageBps": self.slippage_bps, "useDirectRoute": False})
        signed = self._sign(user_id, list(built["signedTxs"]))
        self.references.put_reference(user_id, position_id,
                                      replace(reference, close_signature=signature_of(signed[0])))
        answer = self.client.submit_close_position({**built, "signedTxs": signed})
        withdrawn = answer.get("equityWithdrawnUI")
        if withdrawn is None and isinstance(answer.get("position"), dict):
            withdrawn = answer["position"].get("equityWithdrawnUI")
        return _d(withdrawn)

    # --- risk and de-risking ---

    def health(self, user_id: str, position_id: str) -> LongHealth | None:
        reference = self.references.get_reference(user_id, position_id)
        if reference is None or not reference.pda:
            return None
        entry = self.client.refresh_positions([(reference.protocol, reference.pda)]).get("positions", {}).get(
            reference.pda)
        return None if entry is None else parse_health(entry)

    def _update(self, user_id: str, position_id: str, kind: str, extra: dict[str, Any]) -> dict[str, Any]:
        found = self._record(user_id, position_id)
        if found is None or found[1].get("state") != 0:
            raise VenueRejected(f"no open Asgard long for position {position_id}")
        reference, record = found
        built = self.client.position_update(kind, {
            "protocol": reference.protocol, "walletPubkey": reference.wallet, "positionPDA": record["positionPda"],
            "jitoTipLamport": self.jito_tip_lamports, "slippageBps": self.slippage_bps, "useDirectRoute": False,
            **extra})
        signed = self._sign(user_id, list(built["signedTxs"]))
        return self.client.submit_position_update({
            "protocol": reference.protocol, "walletPubkey": reference.wallet, "positionPDA": record["positionPda"],
            "positionId": record.get("id"), "tokenATokenMint": record.get("tokenATokenMint"),
            "tokenBTokenMint": record.get("tokenBTokenMint"), "signedTxs": signed,
            "updateRecordData": built.get("updateRecordData"), "feesMetadata": built.get("feesMetadata"),
            "lendingApyAtUpdate": built.get("lendingApyAtUpdate"),
            "borrowingApyAtUpdate": built.get("borrowingApyAtUpdate")})

    def deleverage(self, user_id: str, position_id: str, target_leverage: Decimal) -> dict[str, Any]:
        return self._update(user_id, position_id, "deleverage", {"targetLeverage": float(target_leverage)})

    def add_collateral_usdc(self, user_id: str, position_id: str, usdc: Decimal) -> dict[str, Any]:
        return self._update(user_id, position_id, "add-collateral", {
            "collateralAmountNative": int(usdc.scaleb(USDC.decimals)), "collateralType": COLLATERAL_SHORT_TOKEN,
            "collateralMint": USDC.mint})

    def partial_close(self, user_id: str, position_id: str, percentage: Decimal) -> dict[str, Any]:
        return self._update(user_id, position_id, "partial-close", {"closePercentage": float(percentage)})


def wallet_from_directory(directory: WalletDirectory) -> Callable[[str], str]:
    """`wallet_of` for AsgardLongVenue backed by the users' Privy wallets."""

    def wallet_of(user_id: str) -> str:
        record = directory.get_wallets(user_id)
        if record is None:
            raise VenueRejected(f"user {user_id} has no Solana wallet yet")
        return record.solana_address

    return wallet_of


def _preferred_sources(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Main markets first: an asset may have several markets per protocol (Kamino's Jito market...)."""
    return sorted(sources, key=lambda s: 0 if str(s.get("marketKey", "")).lower().startswith("main") else 1)


def fill_from_record(record: dict[str, Any]) -> LongFill:
    size = _d(record.get("tokenAAmountUICurrent") or record.get("tokenAAmountUIEntry"))
    price = _d(record.get("tokenAEntryPriceUSD"))
    fees = _d((record.get("openFeesMetadata") or {}).get("protocolFeeUSD"))
    return LongFill(reference=str(record["positionPda"]), size=size, entry_price_usd=price,
                    notional_usd=size * price, fees_usd=fees)


def parse_health(entry: dict[str, Any]) -> LongHealth:
    summary = entry.get("summary", {})
    drop = _d(summary.get("healthFactor")) / 100
    size = debt = Decimal(0)
    for balance in summary.get("booksAndBalances", {}).get("balances", []):
        for item in balance.values():
            if item.get("mint") == USDC.mint:
                debt += _d(item.get("liabsQt"))
            else:
                size += _d(item.get("assetsQt"))
    ratio = (1 / (1 - drop)).quantize(Decimal("0.0001")) if debt > 0 and drop < 1 else None
    return LongHealth(drop, ratio, size, debt, bool(entry.get("liquidationEvents")))


def parse_markets(payload: dict[str, Any],
                  staking_apy_of: Callable[[Asset], Decimal | None] | None = None) -> list[LendingMarket]:
    """/markets -> one LendingMarket per (asset, protocol) the bot trades (main market preferred)."""
    by_mint = {asset.token.mint: asset for asset in Asset}
    markets: dict[tuple[Asset, LendingProtocol], LendingMarket] = {}
    for strategy in payload.get("strategies", {}).values():
        asset = by_mint.get(strategy.get("tokenAMint"))
        if asset is None or strategy.get("tokenBMint") != USDC.mint:
            continue
        for source in _preferred_sources(strategy.get("liquiditySources", [])):
            if not source.get("isActive", True):
                continue
            try:
                protocol = LendingProtocol(int(source["lendingProtocol"]))
            except (ValueError, KeyError):
                continue
            if (asset, protocol) in markets:
                continue
            staking = source.get("tokenAStakingApy")
            if staking is None and staking_apy_of is not None and asset.is_lst:
                staking = staking_apy_of(asset)
            capacity = source.get("tokenBMaxBorrowCapacity")
            markets[(asset, protocol)] = LendingMarket(
                asset=asset, protocol=protocol,
                supply_apy=_d(source.get("tokenALendingApyRate")),
                usdc_borrow_apy=_d(source.get("tokenBBorrowingApyRate")),
                staking_apy=_d(staking) if asset.is_lst else Decimal(0),
                max_leverage=_d(source["longMaxLeverage"]) if source.get("longMaxLeverage") else None,
                borrow_capacity_usd=_d(capacity) if capacity is not None else None,
            )
    return list(markets.values())


def markets_from_snapshots(rates: dict[str, Any], staking: dict[str, Any],
                           token_config: dict[str, Any]) -> list[LendingMarket]:
    """LendingMarkets from Asgard's recorded `current-rates` (percent), `current-staking-rates` (decimal) and
    `token_config` payloads: the shape of dnbot/data/recorded/asgard/snapshots_*/."""
    rate_by_bank = {(row["protocol"], str(row["address"])): row for row in rates.get("data", [])}
    staking_by_mint = {row["address"]: _d(row["apy"]) for row in staking.get("data", [])}
    entries = {entry.get("mint"): entry for entry in token_config.values() if isinstance(entry, dict)}
    usdc_banks = {(b["protocol"], b.get("market")): str(b["bank"]) for b in entries.get(USDC.mint, {}).get("banks", [])}
    markets = []
    for asset in Asset:
        seen: set[str] = set()
        for bank in entries.get(asset.token.mint, {}).get("banks", []):
            label, market_key = bank["protocol"], bank.get("market")
            usdc_bank = usdc_banks.get((label, market_key))
            if market_key != "Main Market" or usdc_bank is None or label in seen:
                continue
            asset_rates, usdc_rates = rate_by_bank.get((label, str(bank["bank"]))), rate_by_bank.get((label, usdc_bank))
            if usdc_rates is None:
                continue
            seen.add(label)
            limit = (bank.get("maxLeverage") or {}).get("long")
            markets.append(LendingMarket(
                asset=asset, protocol=LendingProtocol.parse(label),
                supply_apy=_d(asset_rates["lendingRate"]) / 100 if asset_rates else Decimal(0),
                usdc_borrow_apy=_d(usdc_rates["borrowingRate"]) / 100,
                staking_apy=staking_by_mint.get(asset.token.mint, Decimal(0)) if asset.is_lst else Decimal(0),
                max_leverage=_d(limit) if limit else None))
    return markets
