"""`/hyperliquid`: Hyperliquid's `/info` and `/exchange`, as the official Python SDK calls them.

Info: meta, spotMeta, metaAndAssetCtxs, predictedFundings, fundingHistory (as of the simulator's clock),
clearinghouseState, userFunding, userNonFundingLedgerUpdates (bridge deposits), userFills, allMids, l2Book (a
synthetic book around the replayed price: the recordings hold no order book), openOrders, frontendOpenOrders,
orderStatus (by oid or cloid).

Exchange: order (IOC limit orders, which is what the SDK's market_open / market_close send; a Gtc/Alo order
that does not cross is refused, as the simulator keeps no resting book), updateLeverage, scheduleCancel,
approveAgent. Every action's signature is VERIFIED: L1 actions by recovering the signer of the phantom agent
(`hyperliquid.utils.signing.recover_agent_or_user_from_l1_action`), user-signed actions (approveAgent) from their
EIP-712 payload. The signer is mapped to its user (an approved agent acts for its user; an agent cannot
withdraw: `withdraw3` is user-signed, so only the account's own wallet can sign it, and it credits the destination
with USDC on the simulated Arbitrum, less the $1 fee); an unknown signer is refused with Hyperliquid's own
message. Nonces follow Hyperliquid's rules per signer: unique, larger than the smallest of the 100 highest seen,
and within (now - 2 days, now + 1 day) of the wall clock the SDK signs with.

Money: USDC margin (`POST /sim/hyperliquid/fund {"user", "usdc"}` or the Arbitrum bridge), one-way cross
positions, fills at the replayed price plus/minus half a basis point, the taker fee 0.045%, funding settled every
hour on size x oracle price (a POSITIVE rate: longs pay shorts), and liquidation when the account value falls
below the maintenance margin (half the initial margin at the asset's max leverage).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from eth_utils.address import is_address
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from hyperliquid.utils.signing import (
    WITHDRAW_SIGN_TYPES,
    recover_agent_or_user_from_l1_action,
    recover_user_from_user_signed_action,
)
from pydantic import BaseModel, ConfigDict

from dnbot.marketdata.recorded import HOUR
from dnbot.sim.world import Fault, FaultKind, SimWorld

VENUE = "hyperliquid"
TAKER_FEE_RATE = Decimal("0.00045")
HALF_SPREAD = Decimal("0.00005")
NONCE_PAST = timedelta(days=2)
NONCE_FUTURE = timedelta(days=1)
FUNDING_HISTORY_LIMIT = 500  # Hyperliquid answers at most 500 entries per fundingHistory call
APPROVE_AGENT_TYPES = [
    {"name": "hyperliquidChain", "type": "string"},
    {"name": "agentAddress", "type": "address"},
    {"name": "agentName", "type": "string"},
    {"name": "nonce", "type": "uint64"},
]


WITHDRAW_FEE_USDC = Decimal(1)  # Hyperliquid's withdrawal fee


@dataclass(frozen=True)
class PerpAsset:
    name: str
    sz_decimals: int
    max_leverage: int


# Hyperliquid's first perp indices (SOL is asset 5); only SOL is traded here, the rest make `meta` look real.
UNIVERSE = (PerpAsset("BTC", 5, 40), PerpAsset("ETH", 4, 25), PerpAsset("ATOM", 2, 5), PerpAsset("MATIC", 1, 20),
            PerpAsset("DYDX", 1, 5), PerpAsset("SOL", 2, 20))
SOL_INDEX = 5
SOL = UNIVERSE[SOL_INDEX]


class HyperliquidError(Exception):
    """An action the venue refuses: answered `{"status": "err", "response": message}` with HTTP 200."""


def _s(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _valid_price(price: Decimal, sz_decimals: int) -> bool:
    """Hyperliquid perps: at most 5 significant figures and at most 6 - szDecimals decimals (integers always ok)."""
    if price <= 0:
        return False
    if price == price.to_integral_value():
        return True
    digits = price.normalize().as_tuple()
    decimals = -int(digits.exponent)
    significant = len(digits.digits)
    return significant <= 5 and decimals <= 6 - sz_decimals


@dataclass
class Fill:
    coin: str
    px: Decimal
    sz: Decimal
    side: str  # "B" buy, "A" sell
    time_ms: int
    start_position: Decimal
    direction: str
    closed_pnl: Decimal
    oid: int
    tid: int
    fee: Decimal
    cloid: str | None


@dataclass
class OrderRecord:
    oid: int
    cloid: str | None
    coin: str
    side: str
    limit_px: Decimal
    sz: Decimal
    status: str  # filled | canceled | rejected
    timestamp_ms: int
    filled_sz: Decimal
    avg_px: Decimal | None


@dataclass
class Account:
    address: str
    usdc: Decimal = Decimal(0)  # cross balance: deposits + realized PnL + funding - fees
    szi: Decimal = Decimal(0)  # signed SOL size: negative = short
    entry_px: Decimal = Decimal(0)
    leverage: int = 20
    cum_funding_all: Decimal = Decimal(0)
    cum_funding_open: Decimal = Decimal(0)
    settled_until: datetime | None = None  # funding paid for every hour before this
    fills: list[Fill] = field(default_factory=list)
    funding: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)  # non-funding updates (bridge deposits, withdrawals)
    orders: dict[int, OrderRecord] = field(default_factory=dict)
    scheduled_cancel_ms: int | None = None


class HyperliquidSim:
    def __init__(self, world: SimWorld, wall_ms: Any = None) -> None:
        self.world = world
        self._wall_ms = wall_ms or (lambda: int(time.time() * 1000))
        self.accounts: dict[str, Account] = {}
        self.agents: dict[str, str] = {}  # agent address -> user address (lowercase)
        self.nonces: dict[str, list[int]] = {}  # signer -> the 100 highest nonces seen
        self.lock = threading.RLock()
        self._next_oid = 1_000_000
        self._next_tid = 1
        world.bridge_deposit_listeners.append(self.deposit)

    # --- market ---------------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.world.clock.now()

    def oracle(self, at: datetime | None = None) -> Decimal:
        return self.world.market.sol_price(at or self.now())

    def mark(self) -> Decimal:
        now = self.now()
        return (self.oracle(now) * (1 + self.world.market.premium(now))).quantize(Decimal("0.001"))

    def mid(self) -> Decimal:
        return self.oracle()

    # --- accounts ---------------------------------------------------------------------------------------

    def account(self, address: str) -> Account:
        key = address.lower()
        if key not in self.accounts:
            self.accounts[key] = Account(key, settled_until=self._hour(self.now()))
        return self.accounts[key]

    def deposit(self, address: str, usdc: Decimal) -> None:
        with self.lock:
            account = self.account(address)
            self._settle(account)
            account.usdc += usdc
            entry = len(account.ledger) + 1
            account.ledger.append({"time": _ms(self.now()), "hash": "0x" + format(entry, "064x"),
                                   "delta": {"type": "deposit", "usdc": _s(usdc)}})

    @staticmethod
    def _hour(moment: datetime) -> datetime:
        return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)

    def _settle(self, account: Account) -> None:
        """Pay funding for every whole hour since the last settlement, then liquidate if under maintenance."""
        now_hour = self._hour(self.now())
        hour = account.settled_until or now_hour
        while hour < now_hour:
            hour += HOUR
            if account.szi != 0:
                rate = self.world.market.funding_hourly(hour - HOUR)
                oracle = self.oracle(hour)
                # POSITIVE rate: longs pay shorts. A short (szi < 0) receives |szi| x oracle x rate.
                payment = -account.szi * oracle * rate
                account.usdc += payment
                account.cum_funding_all -= payment  # Hyperliquid reports cumFunding as paid (+ = paid)
                account.cum_funding_open -= payment
                account.funding.append({
                    "time": _ms(hour), "hash": "0x" + "0" * 64,
                    "delta": {"type": "funding", "coin": SOL.name, "usdc": _s(payment.quantize(Decimal("0.000001"))),
                              "szi": _s(account.szi), "fundingRate": _s(rate), "nSamples": None}})
            self._liquidate_if_needed(account, self.oracle(hour))
        account.settled_until = now_hour
        self._liquidate_if_needed(account, self.oracle())

    def _equity(self, account: Account, price: Decimal) -> Decimal:
        return account.usdc + account.szi * (price - account.entry_px)

    @staticmethod
    def _maintenance(account: Account, price: Decimal) -> Decimal:
        return abs(account.szi) * price / (2 * SOL.max_leverage)

    def _liquidate_if_needed(self, account: Account, price: Decimal) -> None:
        if account.szi == 0 or self._equity(account, price) >= self._maintenance(account, price):
            return
        size = -account.szi
        self._fill(account, is_buy=size > 0, size=abs(size), price=price, cloid=None, oid=self._oid(),
                   direction="Liquidation")

    def _oid(self) -> int:
        self._next_oid += 1
        return self._next_oid

    # --- trading ------------------------------------------------------------------------------------------

    def _fill(self, account: Account, *, is_buy: bool, size: Decimal, price: Decimal, cloid: str | None,
              oid: int, direction: str | None = None) -> Fill:
        signed = size if is_buy else -size
        start = account.szi
        closed_pnl = Decimal(0)
        if start != 0 and (start > 0) != (signed > 0):  # reducing (or flipping)
            closing = min(abs(signed), abs(start))
            closed_pnl = closing * (price - account.entry_px) * (1 if start > 0 else -1)
        new_size = start + signed
        if new_size == 0:
            account.entry_px = Decimal(0)
            account.cum_funding_open = Decimal(0)
        elif start == 0 or (start > 0) != (new_size > 0):
            account.entry_px = price
            account.cum_funding_open = Decimal(0)
        elif abs(new_size) > abs(start):  # adding: average the entry
            account.entry_px = (account.entry_px * abs(start) + price * size) / abs(new_size)
        fee = (size * price * TAKER_FEE_RATE).quantize(Decimal("0.000001"))
        account.usdc += closed_pnl - fee
        account.szi = new_size
        if direction is None:
            opening = abs(new_size) > abs(start)
            side_size = new_size if opening else start
            direction = ("Open " if opening else "Close ") + ("Long" if side_size > 0 else "Short")
        self._next_tid += 1
        fill = Fill(SOL.name, price, size, "B" if is_buy else "A", _ms(self.now()), start, direction,
                    closed_pnl.quantize(Decimal("0.000001")), oid, self._next_tid, fee, cloid)
        account.fills.append(fill)
        return fill

    def place_order(self, account: Account, wire: dict[str, Any], fill_fraction: Decimal) -> dict[str, Any]:
        """One order wire {a, b, p, s, r, t, c?} -> its status, as Hyperliquid reports it."""
        if wire.get("a") != SOL_INDEX:
            return {"error": f"Asset {wire.get('a')} is not traded in the simulator (only SOL, asset {SOL_INDEX})."}
        cloid = wire.get("c")
        if cloid is not None and any(o.cloid == cloid for o in account.orders.values()):
            return {"error": "Duplicate cloid."}  # what makes a retried order safe: it cannot fill twice
        try:
            limit_px, size = Decimal(str(wire["p"])), Decimal(str(wire["s"]))
        except (KeyError, ArithmeticError):
            return {"error": "Order has invalid size."}
        is_buy, reduce_only = bool(wire.get("b")), bool(wire.get("r"))
        if size <= 0 or size != size.quantize(Decimal(1).scaleb(-SOL.sz_decimals)):
            return {"error": "Order has invalid size."}
        if not _valid_price(limit_px, SOL.sz_decimals):
            return {"error": "Order has invalid price."}
        tif = wire.get("t", {}).get("limit", {}).get("tif")
        if tif not in ("Ioc", "Gtc", "Alo"):
            return {"error": "Only limit orders are supported by the simulator."}
        mid = self.mid()
        price = (mid * (1 + HALF_SPREAD) if is_buy else mid * (1 - HALF_SPREAD)).quantize(Decimal("0.0001"))
        if size * price < 10:
            return {"error": "Order must have minimum value of $10."}
        if reduce_only:
            if account.szi == 0 or (account.szi > 0) == is_buy:
                return {"error": "Reduce only order would increase position."}
            size = min(size, abs(account.szi))
        crosses = limit_px >= price if is_buy else limit_px <= price
        if not crosses:
            if tif == "Ioc":
                return {"error": f"Order could not immediately match against any resting orders. asset={SOL_INDEX}"}
            return {"error": "The simulator keeps no resting orders: only crossing orders fill."}
        size = (size * fill_fraction).quantize(Decimal(1).scaleb(-SOL.sz_decimals), rounding=ROUND_DOWN)
        if size <= 0:
            return {"error": f"Order could not immediately match against any resting orders. asset={SOL_INDEX}"}
        increases = abs(account.szi + (size if is_buy else -size)) > abs(account.szi)
        if increases:
            new_notional = abs(account.szi + (size if is_buy else -size)) * price
            needed = new_notional / account.leverage
            if self._equity(account, price) - size * price * TAKER_FEE_RATE < needed:
                return {"error": f"Insufficient margin to place order. asset={SOL_INDEX}"}
        oid = self._oid()
        self._fill(account, is_buy=is_buy, size=size, price=price, cloid=cloid, oid=oid)
        account.orders[oid] = OrderRecord(oid, cloid, SOL.name, "B" if is_buy else "A", limit_px, size, "filled",
                                          _ms(self.now()), size, price)
        filled: dict[str, Any] = {"totalSz": _s(size), "avgPx": _s(price), "oid": oid}
        if cloid is not None:
            filled["cloid"] = cloid
        return {"filled": filled}

    # --- signatures and nonces ------------------------------------------------------------------------------

    def check_nonce(self, signer: str, nonce: int) -> None:
        wall = self._wall_ms()
        if not wall - int(NONCE_PAST.total_seconds() * 1000) < nonce < wall + int(NONCE_FUTURE.total_seconds() * 1000):
            raise HyperliquidError(f"Invalid nonce: {nonce} is outside the allowed time window")
        seen = self.nonces.setdefault(signer, [])
        if nonce in seen:
            raise HyperliquidError("Invalid nonce: duplicate nonce")
        if len(seen) >= 100 and nonce <= seen[0]:
            raise HyperliquidError("Invalid nonce: nonce is smaller than the smallest of the 100 highest")
        seen.append(nonce)
        seen.sort()
        del seen[:-100]

    def user_for_signer(self, signer: str) -> str:
        signer = signer.lower()
        if signer in self.agents:
            return self.agents[signer]
        if signer in self.accounts:
            return signer
        raise HyperliquidError(f"User or API Wallet {signer} does not exist.")

    # --- the two endpoints ------------------------------------------------------------------------------------

    def exchange(self, payload: dict[str, Any], fault: Fault | None) -> dict[str, Any]:
        action, nonce, signature = payload.get("action"), payload.get("nonce"), payload.get("signature")
        if not isinstance(action, dict) or not isinstance(nonce, int) or not isinstance(signature, dict):
            raise HTTPException(422, "Failed to deserialize the JSON body into the target type")
        kind = action.get("type")
        with self.lock:
            if kind == "approveAgent":
                return self._approve_agent(action, nonce, signature)
            if kind == "withdraw3":
                return self._withdraw(action, nonce, signature)
            try:
                signer = recover_agent_or_user_from_l1_action(
                    action, signature, payload.get("vaultAddress"), nonce, payload.get("expiresAfter"), False)
            except Exception as bad:  # a malformed signature recovers no one
                raise HyperliquidError(f"Invalid signature: {bad}") from bad
            user = self.user_for_signer(signer)
            self.check_nonce(signer.lower(), nonce)
            expires = payload.get("expiresAfter")
            if expires is not None and expires < self._wall_ms():
                raise HyperliquidError("Action expired")
            account = self.account(user)
            self._settle(account)
            if kind == "order":
                fraction = fault.fill_fraction if fault and fault.kind is FaultKind.PARTIAL_FILL else Decimal(1)
                statuses = [self.place_order(account, wire, fraction) for wire in action.get("orders", [])]
                return {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}
            if kind == "updateLeverage":
                leverage = int(action.get("leverage", 0))
                if action.get("asset") != SOL_INDEX or not 1 <= leverage <= SOL.max_leverage:
                    raise HyperliquidError("Invalid leverage value")
                if not action.get("isCross", True):
                    raise HyperliquidError("The simulator trades cross margin only")
                account.leverage = leverage
                return {"status": "ok", "response": {"type": "default"}}
            if kind == "scheduleCancel":
                when = action.get("time")
                if when is not None and when < self._wall_ms() + 5_000:
                    raise HyperliquidError("Scheduled cancel time too early, must be at least 5 seconds from now.")
                account.scheduled_cancel_ms = when
                return {"status": "ok", "response": {"type": "default"}}
            raise HyperliquidError(f"Action {kind!r} is not supported by the simulator")

    def _user_signer(self, signed: dict[str, Any], signature: dict[str, Any], sign_types: list[dict[str, str]],
                     primary_type: str, mainnet: bool, nonce: int, nonce_field: str) -> str:
        """The account that signed a user-signed action (EIP-712; withdraw3, approveAgent): the action's own
        `nonce_field` must be the request's nonce, which follows the account's nonce rules."""
        try:
            user = str(recover_user_from_user_signed_action(signed, signature, sign_types, primary_type,
                                                            mainnet)).lower()
        except Exception as bad:
            raise HyperliquidError(f"Invalid signature: {bad}") from bad
        if signed.get(nonce_field) != nonce:
            raise HyperliquidError(f"Invalid nonce: the action's {nonce_field} differs from the request's")
        if user not in self.accounts:
            raise HyperliquidError(f"User or API Wallet {user} does not exist.")
        self.check_nonce(user, nonce)
        return user

    def _withdraw(self, action: dict[str, Any], nonce: int, signature: dict[str, Any]) -> dict[str, Any]:
        """withdraw3: signed by the user's own wallet (an agent's signature recovers to no account), at most the
        withdrawable amount, the $1 fee kept; the destination receives the rest as Arbitrum USDC."""
        user = self._user_signer(dict(action), signature, WITHDRAW_SIGN_TYPES, "HyperliquidTransaction:Withdraw",
                                 action.get("hyperliquidChain") == "Mainnet", nonce, "time")
        destination = str(action.get("destination", ""))
        try:
            amount = Decimal(str(action.get("amount")))
        except ArithmeticError as bad:
            raise HyperliquidError("Invalid withdraw amount") from bad
        if not is_address(destination) or not amount.is_finite() or amount <= WITHDRAW_FEE_USDC:
            raise HyperliquidError(f"Invalid withdraw: the amount must exceed the {WITHDRAW_FEE_USDC} USDC fee")
        account = self.account(user)
        self._settle(account)
        price = self.mark()
        withdrawable = self._equity(account, price) - abs(account.szi) * price / account.leverage
        if amount > withdrawable:
            raise HyperliquidError("Insufficient balance for withdrawal")
        account.usdc -= amount
        entry = len(account.ledger) + 1  # as Hyperliquid lists it: the USDC paid out, the fee, the nonce
        account.ledger.append({"time": _ms(self.now()), "hash": "0x" + format(entry, "064x"), "delta": {
            "type": "withdraw", "usdc": _s(amount - WITHDRAW_FEE_USDC), "nonce": nonce,
            "fee": _s(WITHDRAW_FEE_USDC)}})
        from dnbot.sim.arbitrum import USDC_DECIMALS, ledger_for

        arbitrum = ledger_for(self.world)
        with arbitrum.lock:
            key = destination.lower()
            arbitrum.usdc[key] = arbitrum.usdc.get(key, 0) + int((amount - WITHDRAW_FEE_USDC).scaleb(USDC_DECIMALS))
        return {"status": "ok", "response": {"type": "default"}}

    def _approve_agent(self, action: dict[str, Any], nonce: int, signature: dict[str, Any]) -> dict[str, Any]:
        signed = dict(action)
        signed.setdefault("agentName", "")  # the SDK signs "" and then drops an empty name from the action
        user = self._user_signer(signed, signature, APPROVE_AGENT_TYPES, "HyperliquidTransaction:ApproveAgent", False,
                                 nonce, "nonce")
        agent = str(action.get("agentAddress", "")).lower()
        if not is_address(agent):
            raise HyperliquidError("Invalid agent address")
        if agent in self.agents or agent in self.accounts:
            raise HyperliquidError("Agent address is already in use")
        self.agents[agent] = user
        return {"status": "ok", "response": {"type": "default"}}

    def info(self, body: dict[str, Any]) -> Any:
        kind = body.get("type")
        with self.lock:
            handler = getattr(self, f"_info_{kind}", None)
            if handler is None:
                raise HTTPException(422, f"Failed to deserialize the JSON body into the target type: {kind}")
            return handler(body)

    # --- info -------------------------------------------------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        return {"universe": [{"name": a.name, "szDecimals": a.sz_decimals, "maxLeverage": a.max_leverage}
                             for a in UNIVERSE], "marginTables": []}

    def _info_meta(self, body: dict[str, Any]) -> Any:
        return self._meta()

    def _info_spotMeta(self, body: dict[str, Any]) -> Any:  # noqa: N802 (Hyperliquid's type names)
        return {"universe": [], "tokens": []}

    def _sol_ctx(self) -> dict[str, Any]:
        now = self.now()
        oracle, mark = self.oracle(now), self.mark()
        return {"funding": _s(self.world.market.funding_hourly(now)), "openInterest": "3000000.0",
                "prevDayPx": _s(self.oracle(now - timedelta(days=1))), "dayNtlVlm": "500000000.0",
                "premium": _s(self.world.market.premium(now)), "oraclePx": _s(oracle), "markPx": _s(mark),
                "midPx": _s(self.mid()), "impactPxs": [_s(oracle * (1 - HALF_SPREAD)), _s(oracle * (1 + HALF_SPREAD))]}

    def _info_metaAndAssetCtxs(self, body: dict[str, Any]) -> Any:  # noqa: N802
        quiet = {"funding": "0.0", "openInterest": "0.0", "prevDayPx": "0.0", "dayNtlVlm": "0.0", "premium": "0.0",
                 "oraclePx": "0.0", "markPx": "0.0", "midPx": None, "impactPxs": None}
        return [self._meta(), [self._sol_ctx() if a is SOL else dict(quiet) for a in UNIVERSE]]

    def _info_predictedFundings(self, body: dict[str, Any]) -> Any:  # noqa: N802
        now = self.now()
        next_hour = self._hour(now) + HOUR
        rate = self.world.market.funding_hourly(next_hour)
        return [[SOL.name, [["HlPerp", {"fundingRate": _s(rate), "nextFundingTime": _ms(next_hour),
                                        "fundingIntervalHours": 1}]]]]

    def _info_fundingHistory(self, body: dict[str, Any]) -> Any:  # noqa: N802
        if body.get("coin") != SOL.name:
            return []
        start = datetime.fromtimestamp(int(body["startTime"]) / 1000, tz=UTC)
        now = self.now()
        end = min(datetime.fromtimestamp(int(body["endTime"]) / 1000, tz=UTC), now) if body.get("endTime") else now
        hour = self._hour(start) + (HOUR if start != self._hour(start) else timedelta(0))
        rows: list[dict[str, Any]] = []
        while hour <= end and len(rows) < FUNDING_HISTORY_LIMIT:
            rows.append({"coin": SOL.name, "fundingRate": _s(self.world.market.funding_hourly(hour - HOUR)),
                         "premium": _s(self.world.market.premium(hour - HOUR)), "time": _ms(hour)})
            hour += HOUR
        return rows

    def _info_allMids(self, body: dict[str, Any]) -> Any:  # noqa: N802
        return {SOL.name: _s(self.mid())}

    def _info_l2Book(self, body: dict[str, Any]) -> Any:  # noqa: N802
        mid = self.mid()
        levels: list[list[dict[str, Any]]] = [[], []]
        for step in range(1, 11):
            offset = HALF_SPREAD * step
            size = _s(Decimal(50 * step))
            levels[0].append({"px": _s((mid * (1 - offset)).quantize(Decimal("0.001"))), "sz": size, "n": step})
            levels[1].append({"px": _s((mid * (1 + offset)).quantize(Decimal("0.001"))), "sz": size, "n": step})
        return {"coin": body.get("coin"), "time": _ms(self.now()), "levels": levels}

    def _user(self, body: dict[str, Any]) -> Account | None:
        user = str(body.get("user", "")).lower()
        account = self.accounts.get(user)
        if account is not None:
            self._settle(account)
        return account

    def _info_clearinghouseState(self, body: dict[str, Any]) -> Any:  # noqa: N802
        account = self._user(body)
        now_ms = _ms(self.now())
        if account is None:
            zero = {"accountValue": "0.0", "totalNtlPos": "0.0", "totalRawUsd": "0.0", "totalMarginUsed": "0.0"}
            return {"marginSummary": zero, "crossMarginSummary": dict(zero), "crossMaintenanceMarginUsed": "0.0",
                    "withdrawable": "0.0", "assetPositions": [], "time": now_ms}
        price = self.mark()
        equity = self._equity(account, price)
        notional = abs(account.szi) * price
        margin_used = notional / account.leverage
        summary = {"accountValue": _s(equity.quantize(Decimal("0.000001"))), "totalNtlPos": _s(notional),
                   "totalRawUsd": _s((account.usdc - account.szi * account.entry_px).quantize(Decimal("0.000001"))),
                   "totalMarginUsed": _s(margin_used.quantize(Decimal("0.000001")))}
        positions = []
        if account.szi != 0:
            positions.append({"type": "oneWay", "position": {
                "coin": SOL.name, "szi": _s(account.szi), "leverage": {"type": "cross", "value": account.leverage},
                "entryPx": _s(account.entry_px.quantize(Decimal("0.0001"))), "positionValue": _s(notional),
                "unrealizedPnl": _s((account.szi * (price - account.entry_px)).quantize(Decimal("0.000001"))),
                "returnOnEquity": _s(((price - account.entry_px) / account.entry_px * account.leverage
                                      * (1 if account.szi > 0 else -1)).quantize(Decimal("0.0001"))),
                "liquidationPx": _s(self._liquidation_px(account).quantize(Decimal("0.0001"))),
                "marginUsed": _s(margin_used.quantize(Decimal("0.000001"))), "maxLeverage": SOL.max_leverage,
                "cumFunding": {"allTime": _s(account.cum_funding_all.quantize(Decimal("0.000001"))),
                               "sinceOpen": _s(account.cum_funding_open.quantize(Decimal("0.000001"))),
                               "sinceChange": _s(account.cum_funding_open.quantize(Decimal("0.000001")))}}})
        return {"marginSummary": summary, "crossMarginSummary": dict(summary),
                "crossMaintenanceMarginUsed": _s(self._maintenance(account, price).quantize(Decimal("0.000001"))),
                "withdrawable": _s(max(Decimal(0), equity - margin_used).quantize(Decimal("0.000001"))),
                "assetPositions": positions, "time": now_ms}

    @staticmethod
    def _liquidation_px(account: Account) -> Decimal:
        """The price where equity = maintenance: usdc + szi (p - entry) = |szi| p / (2 max_leverage)."""
        m = Decimal(1) / (2 * SOL.max_leverage)
        szi = account.szi
        denominator = szi - abs(szi) * m
        return max(Decimal(0), (szi * account.entry_px - account.usdc) / denominator) if denominator else Decimal(0)

    def _info_userFunding(self, body: dict[str, Any]) -> Any:  # noqa: N802
        account = self._user(body)
        if account is None:
            return []
        start, end = int(body.get("startTime", 0)), body.get("endTime")
        return [f for f in account.funding if f["time"] >= start and (end is None or f["time"] <= int(end))]

    def _info_userNonFundingLedgerUpdates(self, body: dict[str, Any]) -> Any:  # noqa: N802
        account = self._user(body)
        if account is None:
            return []
        start, end = int(body.get("startTime", 0)), body.get("endTime")
        return [e for e in account.ledger if e["time"] >= start and (end is None or e["time"] <= int(end))]

    def _fill_view(self, fill: Fill) -> dict[str, Any]:
        view = {"coin": fill.coin, "px": _s(fill.px), "sz": _s(fill.sz), "side": fill.side, "time": fill.time_ms,
                "startPosition": _s(fill.start_position), "dir": fill.direction, "closedPnl": _s(fill.closed_pnl),
                "hash": "0x" + format(fill.tid, "064x"), "oid": fill.oid, "crossed": True, "fee": _s(fill.fee),
                "tid": fill.tid, "feeToken": "USDC"}
        if fill.cloid is not None:
            view["cloid"] = fill.cloid
        return view

    def _info_userFills(self, body: dict[str, Any]) -> Any:  # noqa: N802
        account = self._user(body)
        return [] if account is None else [self._fill_view(f) for f in reversed(account.fills)]

    def _info_openOrders(self, body: dict[str, Any]) -> Any:  # noqa: N802
        return []  # IOC orders never rest

    _info_frontendOpenOrders = _info_openOrders  # noqa: N815 (Hyperliquid's type name)

    def _info_orderStatus(self, body: dict[str, Any]) -> Any:  # noqa: N802
        account = self._user(body)
        wanted = body.get("oid")
        if account is not None:
            for order in account.orders.values():
                if order.oid == wanted or (isinstance(wanted, str) and order.cloid == wanted):
                    inner: dict[str, Any] = {"coin": order.coin, "side": order.side, "limitPx": _s(order.limit_px),
                                             "sz": "0.0", "oid": order.oid, "timestamp": order.timestamp_ms,
                                             "origSz": _s(order.sz), "cloid": order.cloid, "reduceOnly": False,
                                             "orderType": "Limit", "tif": "Ioc"}
                    return {"status": "order", "order": {"order": inner, "status": order.status,
                                                         "statusTimestamp": order.timestamp_ms}}
        return {"status": "unknownOid"}


class FundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str
    usdc: Decimal


class OutsideTradeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: Decimal | None = None  # SOL to buy back (a short) or sell (a long); None: the whole position


def build_app(sim: HyperliquidSim) -> FastAPI:
    app = FastAPI(title="Hyperliquid (simulated)")
    world = sim.world

    def _fault(call: str) -> Fault | None:
        fault = world.faults.take(VENUE, call)
        if fault is None:
            return None
        if fault.kind is FaultKind.DELAY:
            time.sleep(fault.delay_seconds)
        if fault.kind is FaultKind.TIMEOUT:
            time.sleep(fault.delay_seconds or 30)
            raise HTTPException(504, "Gateway Timeout")
        if fault.kind is FaultKind.SERVER_ERROR:
            raise HTTPException(502, "Bad Gateway")
        return fault

    @app.post("/info")
    def info(body: dict[str, Any]) -> Any:
        fault = _fault(str(body.get("type")))
        if fault is not None and fault.kind is FaultKind.REJECT:
            raise HTTPException(429, fault.message)
        answer = sim.info(body)
        if fault is not None and fault.kind is FaultKind.LOSE_RESPONSE:
            return Response(status_code=504)
        return answer

    @app.post("/exchange")
    async def exchange(request: Request) -> Any:
        try:
            payload = await request.json()
        except ValueError:
            return JSONResponse({"status": "err", "response": "Failed to deserialize the JSON body"}, 422)
        call = str((payload.get("action") or {}).get("type")) if isinstance(payload, dict) else "?"
        return await _run_exchange(payload, call)

    async def _run_exchange(payload: Any, call: str) -> Any:
        import anyio

        def work() -> Any:
            fault = _fault(call)
            if fault is not None and fault.kind is FaultKind.REJECT:
                return {"status": "err", "response": fault.message}
            try:
                answer = sim.exchange(payload, fault)
            except HyperliquidError as refused:
                return {"status": "err", "response": str(refused)}
            if fault is not None and fault.kind is FaultKind.LOSE_RESPONSE:
                return Response(status_code=504)  # the action happened; the client never hears of it
            return answer

        return await anyio.to_thread.run_sync(work)

    return app


def build_control(sim: HyperliquidSim) -> APIRouter:
    router = APIRouter()

    @router.post("/fund")
    def fund(body: FundRequest) -> dict[str, str]:
        if not is_address(body.user):
            raise HTTPException(400, f"not an address: {body.user}")
        if body.usdc <= 0:
            raise HTTPException(400, "usdc must be positive")
        sim.deposit(body.user, body.usdc)
        state = sim.info({"type": "clearinghouseState", "user": body.user})
        return {"user": body.user.lower(), "account_value": state["marginSummary"]["accountValue"]}

    @router.get("/accounts/{user}")
    def account(user: str) -> Any:
        return sim.info({"type": "clearinghouseState", "user": user})

    @router.post("/accounts/{user}/reduce")
    def outside_trade(user: str, body: OutsideTradeRequest) -> Any:
        """A trade outside the bot (the user on Hyperliquid's own site): reduces the account's SOL position at the
        oracle price, with no cloid."""
        if not is_address(user):
            raise HTTPException(400, f"not an address: {user}")
        with sim.lock:
            account = sim.account(user)
            sim._settle(account)
            size = abs(account.szi) if body.size is None else min(body.size, abs(account.szi))
            if size <= 0:
                raise HTTPException(400, "the account holds no SOL position to reduce")
            sim._fill(account, is_buy=account.szi < 0, size=size, price=sim.oracle(), cloid=None, oid=sim._oid())
        return sim.info({"type": "clearinghouseState", "user": user})

    return router


def create_sim(world: SimWorld) -> HyperliquidSim:
    return HyperliquidSim(world)


def create_venue(world: SimWorld) -> Any:
    from dnbot.sim.venue import SimVenue

    sim = create_sim(world)
    return SimVenue(prefix="/hyperliquid", app=build_app(sim), control=build_control(sim))
