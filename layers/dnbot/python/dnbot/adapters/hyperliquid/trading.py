"""The short leg on Hyperliquid, through the official SDK's wire format and signing.

Orders are built with the SDK's `order_request_to_order_wire` / `order_wires_to_order_action` and signed with
its `sign_l1_action`; the agent approval with its `user_signed_payload` types. The SDK's `Exchange` takes each
nonce from the local clock; here nonces come from a `NonceSource` instead, so several Lambdas signing for one
agent at the same millisecond cannot collide (Hyperliquid rejects a reused nonce).

Idempotency: every order carries a client order id derived from the position id and the step, and each step
first asks Hyperliquid whether that cloid already filled, so a retry after a timeout never doubles a leg.

Legs per position: Hyperliquid nets every position of an account into one SOL position. Each cloid's first 12
bytes name the position, so the account's fills say which position owns which part of the short: `find_short`
adds up this position's own fills, `close_short` buys back exactly this position's size, and `funding_usd` splits
each hourly payment by each position's own size in that hour (docs/architecture.md, "Legs per position").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx
from eth_account import Account
from hyperliquid.utils.constants import MAINNET_API_URL
from hyperliquid.utils.signing import (
    order_request_to_order_wire,
    order_wires_to_order_action,
    sign_l1_action,
    user_signed_payload,
)
from hyperliquid.utils.types import Cloid

from dnbot.adapters.hyperliquid.info import HyperliquidInfo
from dnbot.adapters.hyperliquid.positions import (
    AccountFills,
    action_of,
    cloid_for,
    funding_shares,
    is_closing,
    position_funding_usd,
    resizes_short,
    short_change,
)
from dnbot.domain.pnl import FundingShare
from dnbot.domain.positions import Position
from dnbot.ports import (
    AgentKeyVault,
    AmbiguousVenueError,
    EvmTypedDataSigner,
    NonceSource,
    ShortFill,
    ShortMargin,
    StepFill,
    TransientVenueError,
    VenueRejected,
)

TAKER_FEE_RATE = Decimal("0.00045")
APPROVE_AGENT_TYPES = [
    {"name": "hyperliquidChain", "type": "string"},
    {"name": "agentAddress", "type": "address"},
    {"name": "agentName", "type": "string"},
    {"name": "nonce", "type": "uint64"},
]
AGENT_NAME = "dnbot"
CLOSE_ATTEMPTS = 4


def _closing(fills: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in fills if is_closing(action_of(str(f["cloid"])))]


def _closed(fills: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(f["sz"]) for f in _closing(fills)), Decimal(0))


def _step_fill(fills: list[dict[str, Any]]) -> StepFill:
    return StepFill(sum((Decimal(f["sz"]) for f in fills), Decimal(0)),
                    sum((Decimal(f.get("closedPnl", "0")) - Decimal(f["fee"]) for f in fills), Decimal(0)))


class InMemoryNonces:
    """A NonceSource for one process (tests); Lambdas share the DynamoDB one (DynamoStateStore.next_nonce)."""

    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms
        self._last: dict[str, int] = {}
        self._lock = threading.Lock()

    def next_nonce(self, signer: str) -> int:
        with self._lock:
            nonce = max(self._now_ms(), self._last.get(signer, 0) + 1)
            self._last[signer] = nonce
            return nonce


def round_price(price: Decimal, sz_decimals: int) -> Decimal:
    """Hyperliquid perps: 5 significant figures, at most 6 - szDecimals decimals (the SDK's rule)."""
    if price <= 0:
        raise VenueRejected(f"no price to trade at: {price}")
    significant = price.quantize(Decimal(1).scaleb(price.adjusted() - 4))
    return significant.quantize(Decimal(1).scaleb(-(6 - sz_decimals))).normalize()


def signature_parts(signature_hex: str) -> dict[str, Any]:
    raw = bytes.fromhex(signature_hex.removeprefix("0x"))
    if len(raw) != 65:
        raise VenueRejected("the wallet's EIP-712 signature is not 65 bytes")
    v = raw[64] if raw[64] >= 27 else raw[64] + 27
    return {"r": "0x" + raw[:32].hex(), "s": "0x" + raw[32:64].hex(), "v": v}


class HyperliquidShortVenue:
    """Implements ShortVenue for every user, each trading through their own approved agent wallet."""

    def __init__(self, base_url: str, info: HyperliquidInfo, agent_keys: AgentKeyVault,
                 address_of: Callable[[str], str], approver: EvmTypedDataSigner, nonces: NonceSource, *,
                 slippage: Decimal = Decimal("0.01"), leverage: int = 10,
                 transport: httpx.BaseTransport | None = None, timeout_seconds: float = 10.0) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), transport=transport, timeout=timeout_seconds)
        self._is_mainnet = base_url.rstrip("/") == MAINNET_API_URL
        self.info = info
        self._agent_keys = agent_keys
        self._address_of = address_of
        self._approver = approver
        self._nonces = nonces
        self._slippage = slippage
        self._agent_owners: dict[str, str] = {}  # agent address -> user id (re-approval of an unknown agent)
        self._leverage = leverage

    # --- wire ----------------------------------------------------------------------------------------------

    def _post_exchange(self, payload: dict[str, Any], *, places_order: bool) -> dict[str, Any]:
        kind = payload["action"]["type"]
        try:
            response = self._http.post("/exchange", json=payload)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise TransientVenueError(f"Hyperliquid {kind}: {error}") from error
        except httpx.HTTPError as error:  # sent, but no answer: it may have been executed
            if places_order:
                raise AmbiguousVenueError(f"Hyperliquid {kind}: no answer after sending ({error})") from error
            raise TransientVenueError(f"Hyperliquid {kind}: {error}") from error
        finally:
            self.info.forget_fills()  # fills kept for the funding split predate this action
        if response.status_code >= 500 or response.status_code == 429:
            if places_order and response.status_code != 429:
                raise AmbiguousVenueError(f"Hyperliquid {kind}: HTTP {response.status_code} after sending")
            raise TransientVenueError(f"Hyperliquid {kind}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise VenueRejected(f"Hyperliquid {kind}: {response.status_code} {response.text[:200]}")
        body: dict[str, Any] = response.json()
        if body.get("status") != "ok":
            raise VenueRejected(f"Hyperliquid refused {kind}: {body.get('response')}")
        return body

    def _l1(self, agent: Any, action: dict[str, Any], *, places_order: bool = False) -> dict[str, Any]:
        """Sign with the agent and send. An agent the venue does not know ("User or API Wallet ... does not
        exist": pruned, or its approval lost) is approved again by its user, ONCE, and the action resent; if the
        venue still does not know it, the refusal stands (never retried forever)."""
        for attempt in (1, 2):
            nonce = self._nonces.next_nonce(agent.address.lower())
            signature = sign_l1_action(agent, action, None, nonce, None, self._is_mainnet)
            try:
                return self._post_exchange({"action": action, "nonce": nonce, "signature": signature,
                                            "vaultAddress": None, "expiresAfter": None}, places_order=places_order)
            except VenueRejected as refused:
                owner = self._agent_owners.get(agent.address.lower())
                if attempt == 2 or owner is None or "does not exist" not in str(refused):
                    raise
                self._approve(owner, agent.address)  # refused before anything executed: safe to resend
        raise AssertionError("unreachable")

    # --- the agent wallet ------------------------------------------------------------------------------------

    def ensure_agent(self, user_id: str) -> Any:
        """The user's agent wallet: created once, stored encrypted BEFORE it is approved (an approved key is
        never lost), approved by the user's own EVM wallet. Never shared between users."""
        if self._agent_keys.has(user_id):
            # a stored key that fails to decrypt raises: it is never silently replaced by a new agent
            stored = Account.from_key(self._agent_keys.load(user_id))
            self._agent_owners[stored.address.lower()] = user_id
            return stored
        agent = Account.create()
        self._agent_owners[agent.address.lower()] = user_id
        self._agent_keys.store(user_id, "0x" + bytes(agent.key).hex())
        self._approve(user_id, agent.address)
        return agent

    def _approve(self, user_id: str, agent_address: str) -> None:
        user = self._address_of(user_id)
        nonce = self._nonces.next_nonce(user.lower())
        action = {"type": "approveAgent", "agentAddress": agent_address, "agentName": AGENT_NAME, "nonce": nonce,
                  "signatureChainId": "0x66eee", "hyperliquidChain": "Mainnet" if self._is_mainnet else "Testnet"}
        typed = user_signed_payload("HyperliquidTransaction:ApproveAgent", APPROVE_AGENT_TYPES, action)
        signature = signature_parts(self._approver.sign_typed_data(user_id, typed))
        self._post_exchange({"action": action, "nonce": nonce, "signature": signature, "vaultAddress": None,
                             "expiresAfter": None}, places_order=False)

    # --- orders ----------------------------------------------------------------------------------------------

    def _order(self, agent: Any, *, is_buy: bool, size: Decimal, reduce_only: bool, cloid: str) -> dict[str, Any]:
        decimals = self.info.sz_decimals()
        size = size.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)
        if size <= 0:
            raise VenueRejected(f"order size rounds to zero at {decimals} decimals")
        mid = self.info.mid_price()
        limit = round_price(mid * (1 + self._slippage) if is_buy else mid * (1 - self._slippage), decimals)
        wire = order_request_to_order_wire(
            {"coin": "SOL", "is_buy": is_buy, "sz": float(size), "limit_px": float(limit),
             "order_type": {"limit": {"tif": "Ioc"}}, "reduce_only": reduce_only, "cloid": Cloid.from_str(cloid)},
            self.info.asset_index())
        body = self._l1(agent, order_wires_to_order_action([wire]), places_order=True)
        status = body["response"]["data"]["statuses"][0]
        if "error" in status:
            raise VenueRejected(f"Hyperliquid refused the order: {status['error']}")
        if "filled" not in status:
            raise VenueRejected(f"Hyperliquid did not fill the IOC order: {status}")
        return dict(status["filled"])

    def _own_fills(self, user: str, position_id: str) -> list[dict[str, Any]]:
        """This position's fills (oldest first): the account's fills whose cloid names the position."""
        return AccountFills(self.info.user_fills(user), self.info.coin).of(position_id)

    def _fill_from_fills(self, user: str, cloid: str) -> ShortFill | None:
        fills = self.info.fills_with_cloid(user, cloid)
        if not fills:
            return None
        size = sum((Decimal(f["sz"]) for f in fills), Decimal(0))
        notional = sum((Decimal(f["sz"]) * Decimal(f["px"]) for f in fills), Decimal(0))
        fees = sum((Decimal(f["fee"]) for f in fills), Decimal(0))
        return ShortFill(reference=cloid, size_sol=size,
                         average_price_usd=(notional / size).quantize(Decimal("0.0001")),
                         fees_usd=fees.quantize(Decimal("0.000001")))

    @staticmethod
    def _short_from(position_id: str, fills: list[dict[str, Any]]) -> ShortFill | None:
        """The position's short as its own open and rebalance fills add up (closing buys not counted: unlike the
        net AccountFills.shorts, the ledger caps what a close buys back at what the position sold, _closed apart)."""
        size = notional = fees = Decimal(0)
        for fill in fills:
            if not resizes_short(action_of(str(fill["cloid"]))):
                continue
            change = short_change(fill)
            size += change
            notional += change * Decimal(fill["px"])
            fees += Decimal(fill["fee"])
        if size <= 0:
            return None
        return ShortFill(reference=cloid_for(position_id, "open"), size_sol=size,
                         average_price_usd=(notional / size).quantize(Decimal("0.0001")),
                         fees_usd=fees.quantize(Decimal("0.000001")))

    def open_short(self, user_id: str, position_id: str, size_sol: Decimal) -> ShortFill:
        user = self._address_of(user_id)
        cloid = cloid_for(position_id, "open")
        existing = self._fill_from_fills(user, cloid)
        if existing is not None:
            return existing
        agent = self.ensure_agent(user_id)
        self._l1(agent, {"type": "updateLeverage", "asset": self.info.asset_index(), "isCross": True,
                         "leverage": self._leverage})
        try:
            filled = self._order(agent, is_buy=False, size=size_sol, reduce_only=False, cloid=cloid)
        except AmbiguousVenueError:
            landed = self._fill_from_fills(user, cloid)
            if landed is not None:
                return landed  # the order filled, its answer was lost: adopted (its cloid cannot fill twice)
            raise
        size, price = Decimal(filled["totalSz"]), Decimal(filled["avgPx"])
        return ShortFill(reference=cloid, size_sol=size, average_price_usd=price,
                         fees_usd=(size * price * TAKER_FEE_RATE).quantize(Decimal("0.000001")))

    def adjust_short(self, user_id: str, position_id: str, add_sol: Decimal) -> ShortFill:
        user = self._address_of(user_id)
        cloid = cloid_for(position_id, "rebalance")
        if not self.info.fills_with_cloid(user, cloid):
            self._order(self.ensure_agent(user_id), is_buy=add_sol < 0, size=abs(add_sol),
                        reduce_only=add_sol < 0, cloid=cloid)
        fills = self._own_fills(user, position_id)
        whole = self._short_from(position_id, fills)
        if whole is None or not any(fill["cloid"] == cloid for fill in fills):
            raise VenueRejected("the short's fills are not visible at Hyperliquid yet")
        return whole

    def short_margin(self, user_id: str) -> ShortMargin:
        """The account as cross margin sees it: its value, its whole SOL short, the mark and liquidation price."""
        state = self.info.clearinghouse_state(self._address_of(user_id))
        value = Decimal(str(state.get("marginSummary", {}).get("accountValue", "0")))
        short = Decimal(0)
        liquidation = None
        for entry in state.get("assetPositions", []):
            position = entry.get("position", {})
            if position.get("coin") == self.info.coin:
                short = -Decimal(str(position.get("szi", "0")))
                if position.get("liquidationPx") not in (None, ""):
                    liquidation = Decimal(str(position["liquidationPx"]))
        return ShortMargin(value, max(short, Decimal(0)), self.info.mid_price(), liquidation)

    def step_filled(self, user_id: str, position_id: str, step: str) -> StepFill:
        return _step_fill(self.info.fills_with_cloid(self._address_of(user_id), cloid_for(position_id, step)))

    def resize_short(self, user_id: str, position_id: str, change_sol: Decimal, step: str) -> StepFill:
        """Sell `change_sol` more SOL for this position (negative: buy back, reduce-only) under the cloid of
        `step`; once per step: a retry (or an order whose answer was lost) returns what that cloid filled."""
        user = self._address_of(user_id)
        cloid = cloid_for(position_id, step)
        filled = self.info.fills_with_cloid(user, cloid)
        if not filled:
            try:
                self._order(self.ensure_agent(user_id), is_buy=change_sol < 0, size=abs(change_sol),
                            reduce_only=change_sol < 0, cloid=cloid)
            except AmbiguousVenueError:
                if not self.info.fills_with_cloid(user, cloid):
                    raise
            filled = self.info.fills_with_cloid(user, cloid)
        return _step_fill(filled)

    def find_short(self, user_id: str, position_id: str) -> ShortFill | None:
        """This position's own short, if it is still open at the venue: its open and rebalance fills less its
        closing fills (the account nets every position into one SOL position; the cloids keep them apart)."""
        user = self._address_of(user_id)
        if self.info.sol_position_size(user) >= 0:
            return None  # the account holds no short at all (closed or liquidated outside the bot)
        fills = self._own_fills(user, position_id)
        opened = self._short_from(position_id, fills)
        if opened is None:
            return None
        closed = _closed(fills)
        if opened.size_sol - closed <= 0:
            return None
        return replace(opened, size_sol=opened.size_sol - closed)

    def close_short(self, user_id: str, position_id: str, size_sol: Decimal) -> Decimal:
        """Buy back exactly this position's short, reduce-only IOC: `size_sol` (its ledger size), never more than
        its own fills sold, never the account's net (another position's short stays). Idempotent: closing fills
        of earlier attempts (perhaps whose answer was lost) count. Returns the closing fills' realized PnL after
        their fees."""
        user = self._address_of(user_id)
        decimals = self.info.sz_decimals()
        step = Decimal(1).scaleb(-decimals)
        fills = self._own_fills(user, position_id)
        for attempt in range(CLOSE_ATTEMPTS):
            cloid = cloid_for(position_id, f"close-{attempt}")
            if any(fill["cloid"] == cloid for fill in fills):
                continue  # this attempt already traded
            opened = self._short_from(position_id, fills)
            owned = min(size_sol, opened.size_sol) if opened is not None else Decimal(0)
            remaining = (owned - _closed(fills)).quantize(step, rounding=ROUND_DOWN)
            account_short = -self.info.sol_position_size(user)
            if remaining <= 0 or account_short <= 0:
                break
            try:
                self._order(self.ensure_agent(user_id), is_buy=True, size=min(remaining, account_short),
                            reduce_only=True, cloid=cloid)
            except AmbiguousVenueError:
                fills = self._own_fills(user, position_id)
                if not any(fill["cloid"] == cloid for fill in fills):
                    raise
                continue  # the buy-back filled, its answer was lost: adopted (its cloid cannot fill twice)
            fills = self._own_fills(user, position_id)
        realized = sum((Decimal(f["closedPnl"]) - Decimal(f["fee"]) for f in _closing(fills)), Decimal(0))
        return realized.quantize(Decimal("0.01"))

    def short_closing_fees_usd(self, user_id: str, position_id: str) -> Decimal:
        """The fees of this position's closing fills (cloid close-<attempt>)."""
        fills = self._own_fills(self._address_of(user_id), position_id)
        return sum((Decimal(f["fee"]) for f in _closing(fills)), Decimal(0))

    def funding_usd(self, user_id: str, position_id: str, since: datetime) -> Decimal:
        """This position's share of the account's funding since `since` (positions.position_funding_usd)."""
        return position_funding_usd(self.info, self._address_of(user_id), position_id, since)

    def funding_shares(self, user_id: str, positions: Sequence[Position], since: datetime,
                       until: datetime | None = None) -> list[FundingShare]:
        """The same split, payment by payment (positions.funding_shares): the funding export."""
        return funding_shares(self.info, self._address_of(user_id), [p.position_id for p in positions], since,
                              until)

    def schedule_cancel(self, user_id: str, at_ms: int | None) -> None:
        """Dead-man switch: Hyperliquid cancels the agent's open orders at `at_ms` unless it is pushed back."""
        action: dict[str, Any] = {"type": "scheduleCancel"}
        if at_ms is not None:
            action["time"] = at_ms
        self._l1(self.ensure_agent(user_id), action)
