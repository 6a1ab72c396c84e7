"""`/asgard/margin-trading`: Asgard's spot margin-trading API over the replayed market.

Endpoints and bodies follow Asgard's published API documentation (github.com/asgard-finance/api-docs):
GET /markets, /token-metadata, /token-metadata/{mint}; POST /create-position(-simulate),
/submit-create-position-tx, /close-position(-simulate), /submit-close-position-tx, /refresh-positions,
/positions, /positions/open, /positions/closed, /positions/by-pda, /position/deleverage, /position/repay-debt,
/position/add-collateral, /position/partial-close, /submit-position-update-tx. Errors answer
`{"error": {"name", "code", "message", "details"}}` (422 for logical errors, 429 rate limited, 500).

What is real: the transaction builders return REAL unsigned Solana v0 transactions (solders), fee payer = the
user's wallet, recent blockhash from the `/solana` ledger, instructions to the lending protocol's mainnet
program id (Marginfi, Kamino, Solend, Drift), compute-budget instructions and, when asked, a Jito tip transfer
to a real Jito tip account. A submit must carry exactly the message the builder issued, signed by the wallet
(ed25519 verified); it then debits the wallet's USDC (or asset) and SOL (fees + tip) on the Solana ledger.
Asgard's own program id is not published: the simulator's instructions call the protocol program directly,
and their data is the simulator's own encoding (an 8-byte tag + amounts), not the protocol's real layout.

The position: collateral C (USD) at leverage L buys N = C x L of the asset at the replayed price (less the
open fee), borrowing D = N - C USDC. Every simulated hour the debt grows at that hour's recorded USDC borrow
APY and the asset at its recorded supply APY (SOL reserves; an LST earns its staking APY through its price:
the LST/SOL exchange rate starts at 1 when the simulator starts and accrues the recorded staking APY hourly).
The health factor follows Asgard's documented meaning: the % the collateral's price may drop before
liquidation, 100 x (1 - D / (size x price x LT)); LT = the opening LTV (1 - 1/max leverage) + 5 points, at
least 80% (Asgard's max leverage is a product limit below the protocol's LTV). It is
checked on each hour's recorded low: below zero the protocol liquidates (repays the whole debt from
collateral with a 5% penalty) and a liquidation event is recorded.

Simulator parameters, not Asgard figures: OPEN_FEE_RATE / CLOSE_FEE_RATE, the default max leverage where the
recorded token config names none, the capacities, the liquidation threshold margin and penalty.

Rate limit: without an `X-API-Key` header, 1 request per second per client address (429 beyond, like Asgard's
public tier); any key is accepted and unlimited.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import AccountMeta, Instruction
from solders.message import MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from dnbot.domain.assets import USDC, Asset, Protocol
from dnbot.marketdata.recorded import HOUR, hour_floor
from dnbot.security.transaction_validator import JITO_TIP_ACCOUNTS, PROTOCOL_PROGRAMS
from dnbot.sim.solana_ledger import FEE_LAMPORTS_PER_SIGNATURE, LedgerError, SolanaLedger, ledger_for
from dnbot.sim.stake_pools import stake_pools_for
from dnbot.sim.world import Fault, FaultKind

VENUE = "asgard"
OPEN_FEE_RATE = Decimal("0.0005")  # simulator parameter: 5 bps of notional to open
CLOSE_FEE_RATE = Decimal("0.0005")
DEFAULT_MAX_LEVERAGE = {True: Decimal(3), False: Decimal(4)}  # by is_lst, where the token config names none
LIQUIDATION_THRESHOLD_MARGIN = Decimal("0.05")
MIN_LIQUIDATION_THRESHOLD = Decimal("0.80")
LIQUIDATION_PENALTY = Decimal("0.05")
DEPOSIT_CAPACITY_UI = Decimal(200_000)  # asset units
BORROW_CAPACITY_USDC = Decimal(50_000_000)
COMPUTE_UNIT_LIMIT = 400_000
COMPUTE_UNIT_PRICE_MICRO_LAMPORTS = 10_000
PRIORITY_FEE_LAMPORTS = COMPUTE_UNIT_LIMIT * COMPUTE_UNIT_PRICE_MICRO_LAMPORTS // 1_000_000
USDC_DECIMALS = USDC.decimals
_Q = Decimal("0.000000001")


class AsgardError(Exception):
    def __init__(self, status: int, name: str, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"name": name, "code": code, "message": message, "details": details}}


def _reject(code: str, message: str, details: Any = None, name: str = "BadRequestError") -> AsgardError:
    return AsgardError(422, name, code, message, details)


# --- request bodies (pydantic at the boundary; extra fields pass through, as the docs' round trips need) ---


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class TradeRequestBody(_Body):
    protocol: int
    tokenABank: str  # noqa: N815 (Asgard's field names)
    tokenBBank: str  # noqa: N815
    direction: int
    collateralType: int  # noqa: N815
    collateralAmountNative: int  # noqa: N815
    collateralMint: str  # noqa: N815
    collateralUnitPrice: float | None = None  # noqa: N815
    leverage: float
    jitoTipLamport: int = 0  # noqa: N815
    slippageBps: int = 50  # noqa: N815
    walletPubkey: str  # noqa: N815
    useDirectRoute: bool = False  # noqa: N815


class CloseRequestBody(_Body):
    protocol: int
    walletPubkey: str  # noqa: N815
    positionPDA: str  # noqa: N815
    collateralType: int = 1  # noqa: N815
    jitoTipLamport: int = 0  # noqa: N815
    slippageBps: int = 50  # noqa: N815
    useDirectRoute: bool = False  # noqa: N815


class SubmitBody(_Body):
    signedTxs: list[str]  # noqa: N815


class AsgardPriceMove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    factor: Decimal = Field(gt=0, le=100)


class LstRateMove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asset: Asset
    factor: Decimal = Field(gt=0, le=2)

    @field_validator("asset")
    @classmethod
    def _lst(cls, asset: Asset) -> Asset:
        if not asset.is_lst:
            raise ValueError("an LST: jitoSOL, jupSOL or INF")
        return asset


class RefreshBody(_Body):
    positionPDAs: list[dict[str, Any]]  # noqa: N815


class WalletBody(_Body):
    walletPubkey: str  # noqa: N815


class UpdateRequestBody(_Body):
    protocol: int
    walletPubkey: str  # noqa: N815
    positionPDA: str  # noqa: N815
    targetLeverage: float | None = None  # noqa: N815
    closePercentage: float | None = None  # noqa: N815
    collateralAmountNative: int | None = None  # noqa: N815
    collateralType: int | None = None  # noqa: N815
    collateralMint: str | None = None  # noqa: N815
    repayAmountNative: int | None = None  # noqa: N815
    jitoTipLamport: int = 0  # noqa: N815
    slippageBps: int = 50  # noqa: N815


# --- markets ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimMarket:
    asset: Asset
    protocol: Protocol
    market_key: str
    token_a_bank: str
    token_b_bank: str
    max_leverage: Decimal

    @property
    def liquidation_threshold(self) -> Decimal:
        # Asgard's max leverage is a product limit, often well under what the protocol's LTV allows (Kamino
        # jitoSOL: 2x): the threshold is the opening LTV plus a margin, and never below a SOL-like 80%.
        opening_ltv = 1 - 1 / self.max_leverage
        return min(Decimal("0.95"), max(MIN_LIQUIDATION_THRESHOLD, opening_ltv + LIQUIDATION_THRESHOLD_MARGIN))


def _markets_from_token_config(config: dict[str, Any]) -> list[SimMarket]:
    by_mint = {entry.get("mint"): entry for entry in config.values() if isinstance(entry, dict)}
    usdc_banks = {(b["protocol"], b.get("market")): b["bank"] for b in by_mint.get(USDC.mint, {}).get("banks", [])}
    markets = []
    for asset in Asset:
        for bank in by_mint.get(asset.token.mint, {}).get("banks", []):
            if bank.get("market") != "Main Market":
                continue
            usdc_bank = usdc_banks.get((bank["protocol"], "Main Market"))
            if usdc_bank is None:
                continue  # no USDC to borrow on this protocol's main market
            limit = (bank.get("maxLeverage") or {}).get("long")
            markets.append(SimMarket(
                asset, Protocol.parse(bank["protocol"]), "Main Market", str(bank["bank"]), str(usdc_bank),
                Decimal(str(limit)) if limit else DEFAULT_MAX_LEVERAGE[asset.is_lst]))
    return markets


# --- positions -------------------------------------------------------------------------------------------


@dataclass
class SimPosition:
    id: int
    pda: str
    owner: str
    market: SimMarket
    size: Decimal  # asset units held (assetsQt)
    debt: Decimal  # USDC owed (liabsQt)
    leverage: Decimal
    entry_price: Decimal
    entry_size: Decimal
    entry_debt: Decimal
    open_fee_usd: Decimal
    open_tx: str
    opened_at: datetime
    accrued_to: datetime  # the hour up to which interest is applied
    state: int = 0  # 0 active, 1 closed
    close_tx: str | None = None
    closed_at: datetime | None = None
    exit_price: Decimal | None = None
    withdrawn_usd: Decimal | None = None
    close_fee_usd: Decimal | None = None
    leverage_current: Decimal | None = None
    update_count: int = 0
    liquidation_events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PendingTx:
    kind: str  # "open" | "close" | "update"
    message: bytes
    wallet: str
    pda: str
    details: dict[str, Any]
    tip_lamports: int


class AsgardSim:
    """The venue's state and rules; the HTTP layer below only parses, gates (faults, rate limit) and answers."""

    def __init__(self, world: Any) -> None:
        self.world = world
        self.ledger: SolanaLedger = ledger_for(world)
        self.markets = _markets_from_token_config(world.market.data.token_config)
        self._snapshot_rates = {(r["protocol"], str(r["address"])): r for r in world.market.data.rates_snapshot}
        self.positions: dict[str, SimPosition] = {}
        self.pending: dict[str, PendingTx] = {}  # by sha256 of the message
        self._ids = itertools.count(1)
        # controls (`POST /sim/asgard/price`, `/sim/asgard/lst-rate`): Asgard's SOL price alone x this (a venue
        # price divergence), and an LST's market price x its factor (a depeg: below its redemption value)
        self.sol_price_factor = Decimal(1)
        self.lst_price_factors: dict[Asset, Decimal] = {}
        self.lock = threading.RLock()

    # --- market data ---

    def now(self) -> datetime:
        result = self.world.clock.now()
        assert isinstance(result, datetime)
        return result

    def market(self, protocol: int, token_a_bank: str, token_b_bank: str) -> SimMarket:
        for market in self.markets:
            if (market.protocol == protocol and market.token_a_bank == token_a_bank
                    and market.token_b_bank == token_b_bank):
                return market
        raise _reject("MARKET_NOT_FOUND", f"no margin market for protocol {protocol} with banks "
                                          f"{token_a_bank}/{token_b_bank}")

    def _snapshot_rate(self, market: SimMarket, bank: str, which: str) -> Decimal:
        row = self._snapshot_rates.get((market.protocol.label, bank))
        return Decimal(str(row[which])) / 100 if row else Decimal(0)

    def usdc_borrow_apy(self, market: SimMarket, at: datetime) -> Decimal:
        point = self.world.market.lending(market.protocol, "usdc", at)
        if point is not None:
            return Decimal(point.borrow_apy)
        return self._snapshot_rate(market, market.token_b_bank, "borrowingRate")

    def usdc_supply_apy(self, market: SimMarket, at: datetime) -> Decimal:
        point = self.world.market.lending(market.protocol, "usdc", at)
        if point is not None:
            return Decimal(point.supply_apy)
        return self._snapshot_rate(market, market.token_b_bank, "lendingRate")

    def asset_rates(self, market: SimMarket, at: datetime) -> tuple[Decimal, Decimal]:
        """(supply APY, borrow APY) of the asset's reserve."""
        if market.asset is Asset.SOL:
            point = self.world.market.lending(market.protocol, "sol", at)
            if point is not None:
                return Decimal(point.supply_apy), Decimal(point.borrow_apy)
        return (self._snapshot_rate(market, market.token_a_bank, "lendingRate"),
                self._snapshot_rate(market, market.token_a_bank, "borrowingRate"))

    def staking_apy(self, asset: Asset, at: datetime) -> Decimal:
        return stake_pools_for(self.world).staking_apy(asset, at)

    def exchange_rate(self, asset: Asset, at: datetime) -> Decimal:
        """SOL per LST: its stake pool's redemption rate (sim/stake_pools.py: 1 at the simulator's start, accruing
        the recorded staking APY hourly), which the Solana node's pool accounts serve too."""
        return stake_pools_for(self.world).redemption_rate(asset, at)

    def price(self, asset: Asset, at: datetime | None = None) -> Decimal:
        moment = at or self.now()
        return (Decimal(self.world.market.sol_price(moment)) * self.exchange_rate(asset, moment)
                * self._price_factor(asset)).quantize(Decimal("0.0001"))

    def _price_factor(self, asset: Asset) -> Decimal:
        return self.sol_price_factor * self.lst_price_factors.get(asset, Decimal(1))

    def open_debt(self, market: SimMarket) -> Decimal:
        return sum((p.debt for p in self.positions.values()
                    if p.state == 0 and p.market.protocol is market.protocol), Decimal(0))

    def markets_body(self) -> dict[str, Any]:
        at = self.now()
        strategies: dict[str, Any] = {}
        for market in self.markets:
            name = f"{market.asset.value}/USDC"
            strategy = strategies.setdefault(name, {
                "name": name, "description": f"Long or short {market.asset.value} against USDC",
                "tokenAMint": market.asset.token.mint, "tokenBMint": USDC.mint,
                "market": ["MARGIN"], "tag": ["TRADING"], "liquiditySources": []})
            supply, borrow = self.asset_rates(market, at)
            strategy["liquiditySources"].append({
                "lendingProtocol": int(market.protocol), "isActive": True, "marketKey": market.market_key,
                "tokenABank": market.token_a_bank, "tokenBBank": market.token_b_bank,
                "longMaxLeverage": float(market.max_leverage), "shortMaxLeverage": 2.0,
                "tokenAMaxDepositCapacity": str(DEPOSIT_CAPACITY_UI),
                "tokenAMaxBorrowCapacity": str(DEPOSIT_CAPACITY_UI / 2),
                "tokenBMaxDepositCapacity": str(BORROW_CAPACITY_USDC),
                "tokenBMaxBorrowCapacity": str(max(Decimal(0), BORROW_CAPACITY_USDC - self.open_debt(market))),
                "tokenALendingApyRate": float(supply), "tokenABorrowingApyRate": float(borrow),
                "tokenBLendingApyRate": float(self.usdc_supply_apy(market, at)),
                "tokenBBorrowingApyRate": float(self.usdc_borrow_apy(market, at)),
                "tokenAOracle": {}, "tokenBOracle": {},
                "tokenARewardAPY": [], "tokenBRewardAPY": [],
                # protocol-specific extra (the docs: "staking rates, etc."): the LST's staking APY, decimal
                "tokenAStakingApy": float(self.staking_apy(market.asset, at)),
            })
        return {"strategies": strategies, "totalStrategies": len(strategies)}

    def token_metadata(self) -> list[dict[str, Any]]:
        tokens = [{"symbol": "USDC", "name": "USD Coin", "mint": USDC.mint, "decimals": USDC.decimals,
                   "logoURI": "", "price": 1.0}]
        for asset in Asset:
            tokens.append({"symbol": asset.value, "name": asset.value, "mint": asset.token.mint,
                           "decimals": asset.token.decimals, "logoURI": "", "price": float(self.price(asset))})
        return tokens

    # --- accrual and liquidation ---

    def settle(self, position: SimPosition) -> None:
        """Apply every whole hour of interest since the last settlement, liquidating on the hour's low."""
        if position.state != 0:
            return
        market = position.market
        now = self.now()
        while position.accrued_to + HOUR <= now:
            hour = position.accrued_to
            supply, _ = self.asset_rates(market, hour)
            position.size *= 1 + supply / 8760
            position.debt *= 1 + self.usdc_borrow_apy(market, hour) / 8760
            low = (Decimal(self.world.market.candle(hour).low) * self.world.market.sol_price_factor
                   * self.exchange_rate(market.asset, hour) * self._price_factor(market.asset))
            self._maybe_liquidate(position, low, hour)
            position.accrued_to = hour + HOUR
        self._maybe_liquidate(position, self.price(market.asset, now), now)

    def _maybe_liquidate(self, position: SimPosition, price: Decimal, at: datetime) -> None:
        if position.debt <= 0 or position.size * price * position.market.liquidation_threshold >= position.debt:
            return
        seized = min(position.size, position.debt * (1 + LIQUIDATION_PENALTY) / price)
        position.liquidation_events.append({
            "positionPda": position.pda, "timestamp": at.isoformat().replace("+00:00", "Z"),
            "liquidationPriceUSD": str(price), "repaidAmountUI": str(position.debt.quantize(_Q)),
            "seizedAmountUI": str(seized.quantize(_Q)), "tokenAMint": position.market.asset.token.mint})
        position.size -= seized
        position.debt = Decimal(0)

    def health_factor(self, position: SimPosition) -> Decimal:
        if position.debt <= 0:
            return Decimal(100)
        value = position.size * self.price(position.market.asset) * position.market.liquidation_threshold
        if value <= 0:
            return Decimal(0)
        return (100 * (1 - position.debt / value)).quantize(Decimal("0.01"))

    # --- transactions ---

    def build_tx(self, wallet: str, market: SimMarket, pda: str, tag: str, amounts: list[int],
                 tip_lamports: int) -> tuple[str, bytes]:
        try:
            payer = Pubkey.from_string(wallet)
        except ValueError:
            raise _reject("INVALID_WALLET", f"walletPubkey {wallet!r} is not a Solana address") from None
        if tip_lamports < 0:
            raise _reject("INVALID_TIP", "jitoTipLamport must not be negative")
        program = PROTOCOL_PROGRAMS[int(market.protocol)]
        user_token = Pubkey.from_string(self.ledger.ata(wallet, USDC.mint))
        user_asset = Pubkey.from_string(self.ledger.ata(wallet, market.asset.token.mint))
        data = hashlib.sha256(f"global:dnbot_sim_{tag}".encode()).digest()[:8]
        data += b"".join(struct.pack("<Q", max(0, a)) for a in amounts)
        instructions = [
            set_compute_unit_limit(COMPUTE_UNIT_LIMIT),
            set_compute_unit_price(COMPUTE_UNIT_PRICE_MICRO_LAMPORTS),
            Instruction(program, data, [
                AccountMeta(payer, is_signer=True, is_writable=True),
                AccountMeta(user_token, is_signer=False, is_writable=True),
                AccountMeta(user_asset, is_signer=False, is_writable=True),
                AccountMeta(Pubkey.from_string(pda), is_signer=False, is_writable=True),
                AccountMeta(_bank_key(market.token_a_bank, program), is_signer=False, is_writable=True),
                AccountMeta(_bank_key(market.token_b_bank, program), is_signer=False, is_writable=True),
            ]),
        ]
        if tip_lamports:
            tip_account = sorted(JITO_TIP_ACCOUNTS, key=str)[len(pda) % len(JITO_TIP_ACCOUNTS)]
            instructions.append(transfer(TransferParams(from_pubkey=payer, to_pubkey=tip_account,
                                                        lamports=tip_lamports)))
        blockhash, _ = self.ledger.latest_blockhash()
        message = MessageV0.try_compile(payer, instructions, [], blockhash)
        unsigned = VersionedTransaction.populate(message, [Signature.default()])
        return base64.b64encode(bytes(unsigned)).decode(), to_bytes_versioned(message)

    def remember(self, pending: PendingTx) -> None:
        with self.lock:
            # Forget built transactions whose blockhash expired: they can no longer be submitted anyway.
            for key, old in list(self.pending.items()):
                if not self.ledger.blockhash_valid(MessageV0.from_bytes(old.message[1:]).recent_blockhash):
                    del self.pending[key]
            self.pending[hashlib.sha256(pending.message).hexdigest()] = pending

    def claim(self, signed_txs: list[str], kind: str) -> tuple[PendingTx, str]:
        """The issued transaction these signed bytes carry, verified; returns it and its signature."""
        if len(signed_txs) != 1:
            raise _reject("INVALID_SIGNED_TXS", "expected exactly one signed transaction")
        try:
            tx = VersionedTransaction.from_bytes(base64.b64decode(signed_txs[0]))
        except ValueError as exc:
            raise _reject("INVALID_TRANSACTION", f"cannot decode the signed transaction: {exc}") from exc
        message = to_bytes_versioned(tx.message)
        pending = self.pending.get(hashlib.sha256(message).hexdigest())
        if pending is None or pending.kind != kind:
            raise _reject("TRANSACTION_MISMATCH",
                          "the signed transaction is not one this API built (altered, expired or already used)")
        try:
            signature = self.ledger.verify_signed(tx)
        except LedgerError as exc:
            code = "BLOCKHASH_EXPIRED" if "Blockhash" in exc.message else "SIGNATURE_VERIFICATION_FAILED"
            raise _reject(code, exc.message, name="TransactionError") from exc
        return pending, signature

    def charge_fees(self, wallet: str, tip_lamports: int) -> None:
        self.ledger.debit_lamports(wallet, FEE_LAMPORTS_PER_SIGNATURE + PRIORITY_FEE_LAMPORTS + tip_lamports)

    def consume(self, pending: PendingTx, signature: str) -> None:
        self.pending.pop(hashlib.sha256(pending.message).hexdigest(), None)
        self.ledger.record_signature(signature)

    # --- open ---

    def _open_terms(self, body: TradeRequestBody) -> dict[str, Any]:
        market = self.market(body.protocol, body.tokenABank, body.tokenBBank)
        if body.direction != 0:
            raise _reject("UNSUPPORTED_DIRECTION", "the simulator opens LONG positions (direction 0) only")
        leverage = Decimal(str(body.leverage))
        if not Decimal(1) < leverage <= market.max_leverage:
            raise _reject("INVALID_LEVERAGE", f"leverage must be above 1 and at most {market.max_leverage}",
                          {"maxLeverage": float(market.max_leverage)})
        if body.collateralAmountNative <= 0:
            raise _reject("INVALID_AMOUNT", "collateralAmountNative must be positive")
        expected_mint = market.asset.token.mint if body.collateralType == 0 else USDC.mint
        if body.collateralType not in (0, 1) or body.collateralMint != expected_mint:
            raise _reject("COLLATERAL_MISMATCH", f"collateralType {body.collateralType} needs collateralMint "
                                                 f"{expected_mint}")
        price = self.price(market.asset)
        decimals = market.asset.token.decimals if body.collateralType == 0 else USDC_DECIMALS
        collateral_ui = Decimal(body.collateralAmountNative).scaleb(-decimals)
        collateral_usd = collateral_ui * (price if body.collateralType == 0 else 1)
        notional = collateral_usd * leverage
        fee = notional * OPEN_FEE_RATE
        size = (notional - fee) / price
        debt = notional - collateral_usd
        return {"market": market, "price": price, "collateral_usd": collateral_usd, "collateral_ui": collateral_ui,
                "notional": notional, "fee": fee, "size": size, "debt": debt, "leverage": leverage}

    def create_position(self, body: TradeRequestBody, simulate: bool) -> dict[str, Any]:
        with self.lock:
            terms = self._open_terms(body)
            market: SimMarket = terms["market"]
            if terms["debt"] > BORROW_CAPACITY_USDC - self.open_debt(market):
                raise _reject("CAPACITY_EXCEEDED", "the USDC borrow capacity of this market is exhausted")
            counter = next(self._ids)
            program = PROTOCOL_PROGRAMS[int(market.protocol)]
            pda = str(Pubkey.find_program_address(
                [b"dnbot-sim-position", bytes(Pubkey.from_string(body.walletPubkey)), counter.to_bytes(8, "little")],
                program)[0]) if _is_pubkey(body.walletPubkey) else ""
            answer = body.model_dump()
            answer.update({
                "positionPDA": pda,
                "tokenAMint": market.asset.token.mint, "tokenBMint": USDC.mint,
                "tokenAPriceUSD": float(terms["price"]), "tokenBPriceUSD": 1.0,
                "estimatedTokenAAmountUI": float(terms["size"]), "estimatedTokenBAmountUI": float(terms["debt"]),
                "feesMetadata": {"protocolFeeUSD": float(terms["fee"]), "jitoTipLamport": body.jitoTipLamport,
                                 "priorityFeeLamport": PRIORITY_FEE_LAMPORTS},
            })
            if simulate:
                return answer
            tx, message = self.build_tx(body.walletPubkey, market, pda, "open",
                                        [body.collateralAmountNative, int(terms["leverage"] * 10_000)],
                                        body.jitoTipLamport)
            self.remember(PendingTx("open", message, body.walletPubkey, pda, {"request": body.model_dump()},
                                    body.jitoTipLamport))
            answer["signedTxs"] = [tx]
            return answer

    def submit_create(self, body: SubmitBody, fill_fraction: Decimal) -> dict[str, Any]:
        with self.lock:
            pending, signature = self.claim(body.signedTxs, "open")
            request = TradeRequestBody.model_validate(pending.details["request"])
            if fill_fraction < 1:  # partial fill: only part of the collateral went in
                request = request.model_copy(update={
                    "collateralAmountNative": int(request.collateralAmountNative * fill_fraction)})
            terms = self._open_terms(request)
            market: SimMarket = terms["market"]
            mint = market.asset.token.mint if request.collateralType == 0 else USDC.mint
            saved = (dict(self.ledger.lamports), dict(self.ledger.tokens))
            try:
                self.charge_fees(pending.wallet, pending.tip_lamports)
                self.ledger.debit_token(pending.wallet, mint, request.collateralAmountNative)
            except LedgerError as exc:
                self.ledger.lamports, self.ledger.tokens = saved
                raise _reject("INSUFFICIENT_FUNDS", f"transaction simulation failed: {exc.message}",
                              name="TransactionError") from exc
            self.consume(pending, signature)
            now = self.now()
            position = SimPosition(
                id=int(hashlib.sha256(pending.pda.encode()).hexdigest()[:8], 16), pda=pending.pda,
                owner=pending.wallet, market=market, size=terms["size"], debt=terms["debt"],
                leverage=terms["leverage"], entry_price=terms["price"], entry_size=terms["size"],
                entry_debt=terms["debt"], open_fee_usd=terms["fee"], open_tx=signature, opened_at=now,
                accrued_to=hour_floor(now))
            self.positions[pending.pda] = position
            return self.record(position)

    # --- close ---

    def owned_position(self, pda: str, wallet: str, protocol: int) -> SimPosition:
        position = self.positions.get(pda)
        if position is None or position.owner != wallet or int(position.market.protocol) != protocol:
            raise _reject("POSITION_NOT_FOUND", f"no position {pda} of wallet {wallet} on protocol {protocol}")
        if position.state != 0:
            raise _reject("POSITION_NOT_ACTIVE", f"position {pda} is already closed")
        return position

    def close_position(self, body: CloseRequestBody, simulate: bool) -> dict[str, Any]:
        with self.lock:
            position = self.owned_position(body.positionPDA, body.walletPubkey, body.protocol)
            self.settle(position)
            price = self.price(position.market.asset)
            gross = position.size * price
            fee = gross * CLOSE_FEE_RATE
            answer = body.model_dump()
            answer.update({"tokenAPriceUSD": float(price), "tokenBPriceUSD": 1.0,
                           "estimatedWithdrawUI": float(max(Decimal(0), gross - fee - position.debt)),
                           "feesMetadata": {"protocolFeeUSD": float(fee), "jitoTipLamport": body.jitoTipLamport,
                                            "priorityFeeLamport": PRIORITY_FEE_LAMPORTS}})
            if simulate:
                return answer
            tx, message = self.build_tx(body.walletPubkey, position.market, position.pda, "close",
                                        [body.collateralType], body.jitoTipLamport)
            self.remember(PendingTx("close", message, body.walletPubkey, position.pda,
                                    {"collateralType": body.collateralType}, body.jitoTipLamport))
            answer["signedTxs"] = [tx]
            return answer

    def submit_close(self, body: SubmitBody) -> dict[str, Any]:
        with self.lock:
            pending, signature = self.claim(body.signedTxs, "close")
            position = self.positions[pending.pda]
            if position.state != 0:
                raise _reject("POSITION_NOT_ACTIVE", f"position {position.pda} is already closed")
            self.settle(position)
            try:
                self.charge_fees(pending.wallet, pending.tip_lamports)
            except LedgerError as exc:
                raise _reject("INSUFFICIENT_FUNDS", f"transaction simulation failed: {exc.message}",
                              name="TransactionError") from exc
            self.consume(pending, signature)
            price = self.price(position.market.asset)
            gross = position.size * price
            fee = gross * CLOSE_FEE_RATE
            equity = max(Decimal(0), gross - fee - position.debt)
            if pending.details["collateralType"] == 0:  # paid out in the asset
                self.ledger.credit_token(pending.wallet, position.market.asset.token.mint,
                                         int((equity / price).scaleb(position.market.asset.token.decimals)))
            else:
                self.ledger.credit_token(pending.wallet, USDC.mint, int(equity.scaleb(USDC_DECIMALS)))
            position.state, position.close_tx, position.closed_at = 1, signature, self.now()
            position.exit_price, position.withdrawn_usd, position.close_fee_usd = price, equity, fee
            exit_size = position.size
            position.size, position.debt = Decimal(0), Decimal(0)
            record = self.record(position)
            record["exitMarketMetadata"] = {"onChainExecutedMetadata": {
                "inputMint": position.market.asset.token.mint, "outputMint": USDC.mint,
                "inputAmount": float(exit_size), "outputAmount": float(gross - fee)}}
            return {"success": True, "txHash": signature, "position": record,
                    "equityWithdrawnUI": float(equity),
                    "equityWithdrawnMint": position.market.asset.token.mint
                    if pending.details["collateralType"] == 0 else USDC.mint}

    # --- de-risking (Kamino and Drift, as Asgard documents) ---

    def update(self, kind: str, body: UpdateRequestBody) -> dict[str, Any]:
        with self.lock:
            position = self.owned_position(body.positionPDA, body.walletPubkey, body.protocol)
            if not position.market.protocol.rebalances_in_place:
                raise _reject("UNSUPPORTED_PROTOCOL", f"{kind} is supported on Kamino (1) and Drift (3) only")
            self.settle(position)
            price = self.price(position.market.asset)
            size, debt = position.size, position.debt
            equity = size * price - debt
            leverage_before = (size * price / equity) if equity > 0 else Decimal(0)
            withdrawn = Decimal(0)
            update_type: int
            collateral_native: int | None = None
            if kind == "deleverage":
                target = Decimal(str(body.targetLeverage or 0))
                if not Decimal(1) <= target < leverage_before:
                    raise _reject("INVALID_LEVERAGE", "targetLeverage must be >= 1 and below the current leverage")
                new_size, new_debt, update_type = equity * target / price, equity * (target - 1), 1
            elif kind == "add-collateral":
                if not body.collateralAmountNative or body.collateralAmountNative <= 0:
                    raise _reject("INVALID_AMOUNT", "collateralAmountNative must be positive")
                collateral_native = body.collateralAmountNative
                if body.collateralType == 0:
                    added = Decimal(collateral_native).scaleb(-position.market.asset.token.decimals)
                else:
                    added = Decimal(collateral_native).scaleb(-USDC_DECIMALS) / price
                new_size, new_debt, update_type = size + added, debt, 2
            elif kind == "repay-debt":  # the debt token straight from the wallet: no swap, the size stays
                if not body.repayAmountNative or body.repayAmountNative <= 0:
                    raise _reject("INVALID_AMOUNT", "repayAmountNative must be positive")
                repaid = Decimal(body.repayAmountNative).scaleb(-USDC_DECIMALS)
                if repaid > debt:
                    raise _reject("INVALID_AMOUNT", f"repayAmountNative exceeds the position's debt ({debt} USDC)")
                new_size, new_debt, update_type = size, debt - repaid, 5
            else:  # partial-close
                percentage = Decimal(str(body.closePercentage or 0))
                if not Decimal(1) <= percentage <= Decimal(99):
                    raise _reject("INVALID_PERCENTAGE", "closePercentage must be between 1 and 99")
                fraction = percentage / 100
                new_size, new_debt, update_type = size * (1 - fraction), debt * (1 - fraction), 4
                withdrawn = equity * fraction * (1 - CLOSE_FEE_RATE)
            new_equity = new_size * price - new_debt
            leverage_after = new_size * price / new_equity if new_equity > 0 else Decimal(0)
            record_data = {
                "updateType": update_type, "updatePercentage": body.closePercentage,
                "preTokenAAmountUI": float(size), "preTokenBAmountUI": float(debt),
                "preLeverage": float(leverage_before), "preMarginAmountUI": float(equity),
                "collateralType": body.collateralType, "collateralMint": body.collateralMint,
                "collateralAmountNative": collateral_native,
                "collateralAmountUI": None, "swapInAmount": None, "swapInMint": None, "swapOutAmount": None,
                "swapOutMint": None, "postTokenAAmountUI": float(new_size), "postTokenBAmountUI": float(new_debt),
                "postLeverage": float(leverage_after), "postMarginAmountUI": float(new_equity),
                "tokenAPriceUSD": float(price), "tokenBPriceUSD": 1.0,
            }
            tx, message = self.build_tx(body.walletPubkey, position.market, position.pda, kind.replace("-", "_"),
                                        [int(new_size.scaleb(9)), int(new_debt.scaleb(6))], body.jitoTipLamport)
            self.remember(PendingTx("update", message, body.walletPubkey, position.pda, {
                "new_size": new_size, "new_debt": new_debt, "withdrawn": withdrawn, "kind": kind,
                "collateralType": body.collateralType, "collateralAmountNative": collateral_native,
                "repayAmountNative": body.repayAmountNative, "record": record_data}, body.jitoTipLamport))
            return {"protocol": body.protocol, "walletPubkey": body.walletPubkey, "positionPDA": position.pda,
                    "leverageBefore": float(leverage_before), "leverageAfter": float(leverage_after),
                    "targetLeverage": body.targetLeverage, "closePercentage": body.closePercentage,
                    "depositAmountUIBefore": float(size), "borrowAmountUIBefore": float(debt),
                    "marginAmountUIBefore": float(equity), "depositAmountUIAfter": float(new_size),
                    "borrowAmountUIAfter": float(new_debt), "marginAmountUIAfter": float(new_equity),
                    "equityWithdrawnUI": float(withdrawn), "equityWithdrawnMint": USDC.mint,
                    "longTokenPriceUSD": float(price), "shortTokenPriceUSD": 1.0,
                    "feesMetadata": {"jitoTipLamport": body.jitoTipLamport},
                    "lendingApyAtUpdate": float(self.asset_rates(position.market, self.now())[0]),
                    "borrowingApyAtUpdate": float(self.usdc_borrow_apy(position.market, self.now())),
                    "signedTxs": [tx], "updateRecordData": record_data}

    def submit_update(self, body: SubmitBody) -> dict[str, Any]:
        with self.lock:
            pending, signature = self.claim(body.signedTxs, "update")
            position = self.positions[pending.pda]
            if position.state != 0:
                raise _reject("POSITION_NOT_ACTIVE", f"position {position.pda} is already closed")
            details = pending.details
            saved = (dict(self.ledger.lamports), dict(self.ledger.tokens))
            try:
                self.charge_fees(pending.wallet, pending.tip_lamports)
                if details["kind"] == "add-collateral":
                    mint = position.market.asset.token.mint if details["collateralType"] == 0 else USDC.mint
                    self.ledger.debit_token(pending.wallet, mint, int(details["collateralAmountNative"]))
                if details["kind"] == "repay-debt":
                    self.ledger.debit_token(pending.wallet, USDC.mint, int(details["repayAmountNative"]))
            except LedgerError as exc:
                self.ledger.lamports, self.ledger.tokens = saved
                raise _reject("INSUFFICIENT_FUNDS", f"transaction simulation failed: {exc.message}",
                              name="TransactionError") from exc
            self.consume(pending, signature)
            if details["withdrawn"] > 0:
                self.ledger.credit_token(pending.wallet, USDC.mint, int(details["withdrawn"].scaleb(USDC_DECIMALS)))
            position.size, position.debt = details["new_size"], details["new_debt"]
            position.leverage_current = Decimal(str(details["record"]["postLeverage"]))
            position.update_count += 1
            return {"success": True, "txHash": signature, "txMetadata": {"slot": self.ledger.slot()},
                    "positionUpdate": {"id": position.update_count, "updateType": details["record"]["updateType"],
                                       "status": 1},
                    "position": {"id": position.id, "tokenAAmountUICurrent": str(position.size.quantize(_Q)),
                                 "tokenBAmountUICurrent": str(position.debt.quantize(_Q)),
                                 "leverageCurrent": str(position.leverage_current),
                                 "updateCount": position.update_count}}

    # --- reads ---

    def record(self, position: SimPosition) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return at.isoformat().replace("+00:00", "Z") if at else None

        entry_cost = position.entry_size * position.entry_price
        return {
            "id": position.id, "ownerAddress": position.owner, "positionPda": position.pda,
            "protocol": int(position.market.protocol), "state": position.state, "positionSide": 0,
            "tokenATokenMint": position.market.asset.token.mint, "tokenBTokenMint": USDC.mint,
            "tokenABank": position.market.token_a_bank, "tokenBBank": position.market.token_b_bank,
            "leverage": str(position.leverage), "tokenAEntryPriceUSD": str(position.entry_price),
            "tokenBEntryPriceUSD": "1", "tokenAExitPriceUSD": None if position.exit_price is None
            else str(position.exit_price), "tokenBExitPriceUSD": None if position.exit_price is None else "1",
            "tokenAAmountUIEntry": str(position.entry_size.quantize(_Q)),
            "tokenBAmountUIEntry": str(position.entry_debt.quantize(_Q)),
            "tokenAAmountUICurrent": None if not position.update_count else str(position.size.quantize(_Q)),
            "tokenBAmountUICurrent": None if not position.update_count else str(position.debt.quantize(_Q)),
            "leverageCurrent": None if position.leverage_current is None else str(position.leverage_current),
            "updateCount": position.update_count,
            "openTxHash": position.open_tx, "closeTxHash": position.close_tx,
            "openedAt": iso(position.opened_at), "closedAt": iso(position.closed_at),
            "entryMarketMetadata": {"onChainExecutedMetadata": {
                "inputMint": USDC.mint, "outputMint": position.market.asset.token.mint,
                "inputAmount": float(entry_cost), "outputAmount": float(position.entry_size)}},
            "openFeesMetadata": {"protocolFeeUSD": float(position.open_fee_usd)},
            "closeFeesMetadata": None if position.close_fee_usd is None
            else {"protocolFeeUSD": float(position.close_fee_usd)},
            "equityWithdrawnUI": None if position.withdrawn_usd is None else float(position.withdrawn_usd),
            "liquidationEvents": list(position.liquidation_events),
        }

    def refresh(self, body: RefreshBody) -> dict[str, Any]:
        with self.lock:
            answer: dict[str, Any] = {}
            for entry in body.positionPDAs:
                position = self.positions.get(str(entry.get("positionPDA")))
                if position is None or int(position.market.protocol) != int(entry.get("protocol", -1)):
                    continue
                self.settle(position)
                price = self.price(position.market.asset)
                answer[position.pda] = {
                    "accountAddress": position.pda, "authority": position.owner,
                    "summary": {
                        "healthFactor": float(self.health_factor(position)),
                        "booksAndBalances": {"balances": [
                            {position.market.token_a_bank: {
                                "mint": position.market.asset.token.mint, "assetsQt": float(position.size),
                                "liabsQt": 0.0, "assetsUsd": float(position.size * price), "liabsUsd": 0.0}},
                            {position.market.token_b_bank: {
                                "mint": USDC.mint, "assetsQt": 0.0, "liabsQt": float(position.debt),
                                "assetsUsd": 0.0, "liabsUsd": float(position.debt)}},
                        ]},
                    },
                    "riskMetrics": {"liquidationBuffer": float(self.health_factor(position))},
                    "liquidationEvents": list(position.liquidation_events),
                }
            return {"positions": answer}

    def wallet_positions(self, wallet: str, state: int | None) -> list[dict[str, Any]]:
        with self.lock:
            found = []
            for position in self.positions.values():
                if position.owner == wallet:
                    self.settle(position)
                    if state is None or position.state == state:
                        found.append(self.record(position))
            return found


def _is_pubkey(text: str) -> bool:
    try:
        Pubkey.from_string(text)
    except ValueError:
        return False
    return True


def _bank_key(bank: str, program: Pubkey) -> Pubkey:
    """A bank's account: its address, or for Drift's market indexes the spot-market PDA Drift derives."""
    if _is_pubkey(bank):
        return Pubkey.from_string(bank)
    return Pubkey.find_program_address([b"spot_market", int(bank).to_bytes(2, "little")], program)[0]


# --- HTTP ---------------------------------------------------------------------------------------------------


class RateLimiter:
    """Asgard's public tier: 1 request per second per client address (a little slack for clock jitter)."""

    def __init__(self, interval_seconds: float = 1.0, slack_seconds: float = 0.15,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval_seconds - slack_seconds
        self._monotonic = monotonic
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = self._monotonic()
        with self._lock:
            last = self._last.get(client)
            if last is not None and now - last < self.interval:
                return False
            self._last[client] = now
            return True


def build_app(world: Any, sim: AsgardSim | None = None, limiter: RateLimiter | None = None) -> FastAPI:
    venue = sim or AsgardSim(world)
    limiter = limiter or RateLimiter()
    app = FastAPI(title="dnbot sim: Asgard margin-trading", openapi_url=None)
    app.state.asgard = venue

    async def serve(request: Request, call: str,
                    handler: Callable[[dict[str, Any], Fault | None], dict[str, Any] | list[Any]]) -> Response:
        if not request.headers.get("x-api-key"):
            client = request.client.host if request.client else "unknown"
            if not limiter.allow(client):
                return JSONResponse(AsgardError(429, "TooManyRequestsError", "RATE_LIMITED",
                                                "Too many requests: 1 request per second without an API key").body,
                                    status_code=429)
        fault = world.faults.take(VENUE, call)
        if fault is not None:
            if fault.kind is FaultKind.REJECT:
                return JSONResponse(_reject("INJECTED_REJECTION", fault.message).body, status_code=422)
            if fault.kind is FaultKind.SERVER_ERROR:
                return JSONResponse(AsgardError(500, "InternalServerError", "INTERNAL_ERROR", fault.message).body,
                                    status_code=500)
            if fault.kind is FaultKind.TIMEOUT:
                await asyncio.sleep(fault.delay_seconds or 30.0)
                return Response("Gateway Timeout", status_code=504)
            if fault.kind is FaultKind.DELAY:
                await asyncio.sleep(fault.delay_seconds)
        body: dict[str, Any] = {}
        if request.method == "POST":
            raw = await request.body()
            if raw:
                try:
                    parsed = await request.json()
                except ValueError:
                    return JSONResponse(_reject("INVALID_JSON", "the body is not JSON").body, status_code=400)
                body = parsed if isinstance(parsed, dict) else {"_": parsed}
        try:
            payload = handler(body, fault)
        except ValidationError as exc:
            return JSONResponse(_reject("VALIDATION_ERROR", "invalid request body",
                                        exc.errors(include_url=False, include_context=False),
                                        name="ValidationError").body, status_code=422)
        except AsgardError as exc:
            return JSONResponse(exc.body, status_code=exc.status)
        if fault is not None and fault.kind is FaultKind.LOSE_RESPONSE:
            return Response("Gateway Timeout", status_code=504)  # it happened; the answer is lost
        return JSONResponse(payload)

    def fill(fault: Fault | None) -> Decimal:
        return fault.fill_fraction if fault is not None and fault.kind is FaultKind.PARTIAL_FILL else Decimal(1)

    routes: dict[str, tuple[str, Callable[[dict[str, Any], Fault | None], Any]]] = {
        "markets": ("GET", lambda b, f: venue.markets_body()),
        "token-metadata": ("GET", lambda b, f: {"tokens": venue.token_metadata(), "stats": {}}),
        "create-position": ("POST", lambda b, f: venue.create_position(TradeRequestBody.model_validate(b), False)),
        "create-position-simulate": ("POST", lambda b, f: venue.create_position(
            TradeRequestBody.model_validate(b), True)),
        "submit-create-position-tx": ("POST", lambda b, f: venue.submit_create(SubmitBody.model_validate(b), fill(f))),
        "close-position": ("POST", lambda b, f: venue.close_position(CloseRequestBody.model_validate(b), False)),
        "close-position-simulate": ("POST", lambda b, f: venue.close_position(
            CloseRequestBody.model_validate(b), True)),
        "submit-close-position-tx": ("POST", lambda b, f: venue.submit_close(SubmitBody.model_validate(b))),
        "refresh-positions": ("POST", lambda b, f: venue.refresh(RefreshBody.model_validate(b))),
        "positions": ("POST", lambda b, f: venue.wallet_positions(WalletBody.model_validate(b).walletPubkey, None)),
        "positions/open": ("POST", lambda b, f: venue.wallet_positions(WalletBody.model_validate(b).walletPubkey, 0)),
        "positions/closed": ("POST", lambda b, f: venue.wallet_positions(
            WalletBody.model_validate(b).walletPubkey, 1)),
        "position/deleverage": ("POST", lambda b, f: venue.update("deleverage", UpdateRequestBody.model_validate(b))),
        "position/add-collateral": ("POST", lambda b, f: venue.update(
            "add-collateral", UpdateRequestBody.model_validate(b))),
        "position/partial-close": ("POST", lambda b, f: venue.update(
            "partial-close", UpdateRequestBody.model_validate(b))),
        "position/repay-debt": ("POST", lambda b, f: venue.update("repay-debt", UpdateRequestBody.model_validate(b))),
        "submit-position-update-tx": ("POST", lambda b, f: venue.submit_update(SubmitBody.model_validate(b))),
    }

    for call, (method, handler) in routes.items():
        async def endpoint(request: Request, _call: str = call, _handler: Any = handler) -> Response:
            return await serve(request, _call, _handler)

        app.add_api_route(f"/{call}", endpoint, methods=[method], include_in_schema=False)

    async def by_pda(request: Request) -> Response:
        pda = request.query_params.get("pda", "")

        def handler(body: dict[str, Any], fault: Fault | None) -> dict[str, Any]:
            with venue.lock:
                position = venue.positions.get(pda)
                if position is None:
                    raise AsgardError(404, "NotFoundError", "POSITION_NOT_FOUND", f"no position {pda}")
                venue.settle(position)
                return venue.record(position)

        return await serve(request, "positions/by-pda", handler)

    async def token_by_mint(request: Request) -> Response:
        mint = request.path_params["mint"]

        def handler(body: dict[str, Any], fault: Fault | None) -> dict[str, Any]:
            for token in venue.token_metadata():
                if token["mint"] == mint:
                    return token
            raise AsgardError(404, "NotFoundError", "TOKEN_NOT_FOUND", f"no token {mint}")

        return await serve(request, "token-metadata", handler)

    app.add_api_route("/positions/by-pda", by_pda, methods=["POST"], include_in_schema=False)
    app.add_api_route("/token-metadata/{mint}", token_by_mint, methods=["GET"], include_in_schema=False)
    return app


def build_control(world: Any, app: FastAPI) -> APIRouter:
    venue: AsgardSim = app.state.asgard
    router = APIRouter()

    @router.post("/price")
    def move_price(body: AsgardPriceMove) -> dict[str, Any]:
        """Asgard's SOL price (and so every asset it prices) alone x `factor`, on top of `/sim/market`:
        the venues disagree on SOL (Hyperliquid's oracle is untouched); `1` puts it back."""
        with venue.lock:
            venue.sol_price_factor = body.factor
            return {"factor": str(body.factor), "sol_price": str(venue.price(Asset.SOL))}

    @router.post("/lst-rate")
    def move_lst_rate(body: LstRateMove) -> dict[str, Any]:
        """An LST's market price at Asgard x `factor` (its LST/SOL rate below the redemption rate the
        staking APY accrues: a depeg); `1` puts it back."""
        with venue.lock:
            venue.lst_price_factors[body.asset] = body.factor
            rate = venue.price(body.asset) / venue.price(Asset.SOL)
            return {"asset": body.asset.value, "factor": str(body.factor),
                    "redemption_rate": str(venue.exchange_rate(body.asset, venue.now())),
                    "market_rate": str(rate.quantize(Decimal("0.000001")))}

    @router.get("/positions")
    def positions() -> list[dict[str, Any]]:
        with venue.lock:
            for position in venue.positions.values():
                venue.settle(position)
            return [venue.record(p) | {"healthFactor": float(venue.health_factor(p))}
                    for p in venue.positions.values()]

    return router


def create_venue(world: Any) -> Any:
    from dnbot.sim.venue import SimVenue

    app = build_app(world)
    return SimVenue(prefix="/asgard/margin-trading", app=app, control=build_control(world, app))
