"""`/arbitrum`: an Arbitrum One JSON-RPC node holding USDC balances, with Hyperliquid's bridge.

Methods: eth_chainId (0xa4b1), net_version, eth_blockNumber, eth_getBalance, eth_getTransactionCount,
eth_gasPrice, eth_maxPriorityFeePerGas, eth_estimateGas, eth_call (USDC `balanceOf`, `decimals`, `symbol`,
`allowance`; MessageTransmitterV2 `usedNonces`), eth_sendRawTransaction, eth_getTransactionReceipt,
eth_getTransactionByHash.

Circle CCTP V2 (`dnbot.sim.arbitrum_cctp`): USDC `approve`, TokenMessengerV2 `depositForBurn` (its message goes to
the simulated attesters, `dnbot.sim.cctp`) and MessageTransmitterV2 `receiveMessage`; eth_estimateGas and eth_call
run them dry and answer "execution reverted: <reason>" when they would revert.

eth_sendRawTransaction accepts signed EIP-1559 (type 2) and legacy EIP-155 transactions: it recovers the
sender from the signature (eth-account), checks the chain id and the sender's nonce, and executes a USDC
`transfer`. A transfer to Hyperliquid's bridge (0x2Df1c51E09aECF9cacB7bc98cB1742757f163dF7) of at least
5 USDC is credited to the sender's Hyperliquid account through `world.bridge_deposit`; a smaller one is LOST,
as on the real bridge (Hyperliquid documents the 5 USDC minimum). A transfer beyond the balance reverts
(receipt status 0x0; the nonce is consumed). Gas is paid in ETH, as on the chain: a transaction whose sender
cannot cover gas limit x max fee is refused ("insufficient funds for gas * price + value"), and a mined one
costs its sender gas used x the gas price. A transaction sent again (same signed bytes) answers "already known";
another one with a used nonce "nonce too low".

Control: `POST /sim/arbitrum/fund {"address", "usdc", "eth"}`, `GET /sim/arbitrum/balances/{address}`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import rlp
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account._utils.legacy_transactions import Transaction as LegacyTransaction
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import Response
from hexbytes import HexBytes
from pydantic import BaseModel, field_validator

from dnbot.sim import arbitrum_cctp
from dnbot.sim.solana_rpc import AnyPath, JsonRpcError, parse_decimal, serve_jsonrpc

VENUE = "arbitrum"
CHAIN_ID = 42161
USDC_CONTRACT = "0xaf88d065e77c8cc2239327c5edb3a432268e5831"  # native USDC on Arbitrum One
HYPERLIQUID_BRIDGE = "0x2df1c51e09aecf9cacb7bc98cb1742757f163df7"
MIN_BRIDGE_DEPOSIT_USDC = Decimal(5)
USDC_DECIMALS = 6
ETH_DECIMALS = 18
GAS_PRICE_WEI = 10_000_000  # 0.01 gwei, Arbitrum's usual base fee
TRANSFER_GAS = 65_000
BALANCE_OF, TRANSFER, DECIMALS, SYMBOL = (bytes.fromhex(s) for s in ("70a08231", "a9059cbb", "313ce567",
                                                                      "95d89b41"))
_GENESIS_BLOCK = 280_000_000


@dataclass
class ArbitrumLedger:
    clock_now: Any
    start: Any
    usdc: dict[str, int] = field(default_factory=dict)  # lowercase address -> raw units
    eth: dict[str, int] = field(default_factory=dict)  # lowercase address -> wei
    nonces: dict[str, int] = field(default_factory=dict)
    allowances: dict[tuple[str, str], int] = field(default_factory=dict)  # USDC (owner, spender) -> raw units
    used_nonces: dict[bytes, int] = field(default_factory=dict)  # CCTP MessageTransmitterV2.usedNonces
    revert_reasons: dict[str, str] = field(default_factory=dict)  # tx hash -> why it reverted (a debugger's view)
    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def block_number(self) -> int:
        return _GENESIS_BLOCK + int((self.clock_now() - self.start).total_seconds() * 4)  # ~250 ms blocks

    def usdc_ui(self, address: str) -> Decimal:
        return Decimal(self.usdc.get(address.lower(), 0)).scaleb(-USDC_DECIMALS)


def ledger_for(world: Any) -> ArbitrumLedger:
    ledger = getattr(world, "arbitrum_ledger", None)
    if ledger is None:
        ledger = ArbitrumLedger(clock_now=world.clock.now, start=world.clock.start)
        world.arbitrum_ledger = ledger
    assert isinstance(ledger, ArbitrumLedger)
    return ledger


def _address(value: Any) -> str:
    text = str(value).lower()
    if not (text.startswith("0x") and len(text) == 42):
        raise JsonRpcError(-32602, f"invalid address {value!r}")
    try:
        int(text, 16)
    except ValueError:
        raise JsonRpcError(-32602, f"invalid address {value!r}") from None
    return text


class ArbitrumNode:
    def __init__(self, world: Any) -> None:
        self.world = world
        self.ledger = ledger_for(world)

    def dispatch(self, method: str, params: list[Any]) -> Any:
        handlers: dict[str, Callable[[list[Any]], Any]] = {
            "eth_chainId": lambda p: hex(CHAIN_ID),
            "net_version": lambda p: str(CHAIN_ID),
            "eth_blockNumber": lambda p: hex(self.ledger.block_number()),
            "eth_getBalance": lambda p: hex(self.ledger.eth.get(_address(p[0]), 0)),
            "eth_gasPrice": lambda p: hex(GAS_PRICE_WEI),
            "eth_maxPriorityFeePerGas": lambda p: "0x0",
            "eth_estimateGas": self.estimate_gas,
            "eth_getTransactionCount": lambda p: hex(self.ledger.nonces.get(_address(p[0]), 0)),
            "eth_call": self.call,
            "eth_sendRawTransaction": self.send_raw_transaction,
            "eth_getTransactionReceipt": lambda p: self.ledger.receipts.get(str(p[0]).lower()),
            "eth_getTransactionByHash": lambda p: self.ledger.transactions.get(str(p[0]).lower()),
        }
        handler = handlers.get(method)
        if handler is None:
            raise JsonRpcError(-32601, f"the method {method} does not exist/is not available")
        try:
            return handler(params)
        except (IndexError, KeyError, TypeError, ValueError) as exc:
            raise JsonRpcError(-32602, f"invalid params: {exc}") from exc

    def estimate_gas(self, params: list[Any]) -> str:
        call = params[0]
        target = _address(call.get("to", "0x" + "0" * 40))
        data = bytes.fromhex(str(call.get("data") or call.get("input") or "0x")[2:])
        if arbitrum_cctp.handles(target, data):
            self._dry_run(call, target, data)
            return hex(arbitrum_cctp.gas_for(target, data) or TRANSFER_GAS)
        if target == USDC_CONTRACT:
            return hex(TRANSFER_GAS)
        return hex(21_000)

    def _dry_run(self, call: dict[str, Any], target: str, data: bytes) -> bytes:
        """A CCTP call run without changing anything: its return data, or the node's "execution reverted"."""
        sender = _address(call.get("from") or "0x" + "0" * 40)
        with self.ledger.lock:
            try:
                result, _ = arbitrum_cctp.execute(self.world, self.ledger, sender, target, data, "0x", dry=True)
            except arbitrum_cctp.Revert as revert:
                raise JsonRpcError(3, f"execution reverted: {revert.reason}", "0x") from None
        return result

    def call(self, params: list[Any]) -> str:
        call = params[0]
        target = _address(call.get("to"))
        data = bytes.fromhex(str(call.get("data") or call.get("input") or "0x")[2:])
        with self.ledger.lock:
            view = arbitrum_cctp.read(self.ledger, target, data)
        if view is not None:
            return "0x" + view.hex()
        if arbitrum_cctp.handles(target, data):
            return "0x" + self._dry_run(call, target, data).hex()
        if target != USDC_CONTRACT:
            return "0x"  # no contract code there
        if data[:4] == BALANCE_OF:
            (owner,) = abi_decode(["address"], data[4:])
            return "0x" + abi_encode(["uint256"], [self.ledger.usdc.get(owner.lower(), 0)]).hex()
        if data[:4] == DECIMALS:
            return "0x" + abi_encode(["uint8"], [USDC_DECIMALS]).hex()
        if data[:4] == SYMBOL:
            return "0x" + abi_encode(["string"], ["USDC"]).hex()
        raise JsonRpcError(3, "execution reverted", "0x")

    def send_raw_transaction(self, params: list[Any]) -> str:
        raw = HexBytes(bytes.fromhex(str(params[0]).removeprefix("0x")))
        try:
            sender = Account.recover_transaction(raw).lower()
            if raw and raw[0] <= 0x7F:
                fields = TypedTransaction.from_bytes(raw).as_dict()
                chain_id, nonce, to = int(fields["chainId"]), int(fields["nonce"]), fields.get("to") or b""
                data, value = bytes(fields.get("data") or b""), int(fields.get("value") or 0)
                gas_limit, fee_cap = int(fields["gas"]), int(fields.get("maxFeePerGas") or fields.get("gasPrice") or 0)
            else:
                legacy = rlp.decode(raw, LegacyTransaction)
                chain_id = (legacy.v - 35) // 2 if legacy.v >= 35 else 0
                nonce, to, data, value = legacy.nonce, legacy.to, bytes(legacy.data), legacy.value
                gas_limit, fee_cap = legacy.gas, legacy.gasPrice
        except Exception as exc:
            raise JsonRpcError(-32000, f"invalid transaction: {exc}") from exc
        if chain_id != CHAIN_ID:
            raise JsonRpcError(-32000, f"invalid chain id {chain_id}: this is Arbitrum One ({CHAIN_ID})")
        tx_hash = "0x" + keccak(raw).hex()
        target = ("0x" + bytes(to).hex()) if isinstance(to, bytes | bytearray) else str(to).lower()
        with self.ledger.lock:
            if tx_hash in self.ledger.receipts:
                raise JsonRpcError(-32000, "already known")
            expected = self.ledger.nonces.get(sender, 0)
            if nonce < expected:
                raise JsonRpcError(-32000, f"nonce too low: address {sender}, tx: {nonce} state: {expected}")
            if nonce > expected:
                raise JsonRpcError(-32000, f"nonce too high: address {sender}, tx: {nonce} state: {expected}")
            if self.ledger.eth.get(sender, 0) < gas_limit * fee_cap + value:
                raise JsonRpcError(-32000, f"insufficient funds for gas * price + value: address {sender} have "
                                           f"{self.ledger.eth.get(sender, 0)} want {gas_limit * fee_cap + value}")
            if value:
                raise JsonRpcError(-32000, "the simulator moves USDC only, not ETH")
            self.ledger.nonces[sender] = expected + 1
            gas_used = arbitrum_cctp.gas_for(target, data) or TRANSFER_GAS
            status, logs = 1, list[dict[str, Any]]()
            if arbitrum_cctp.handles(target, data) and gas_limit < gas_used:
                status, gas_used = 0, gas_limit  # out of gas: the limit is spent
                self.ledger.revert_reasons[tx_hash] = "out of gas"
            elif arbitrum_cctp.handles(target, data):
                try:
                    _, logs = arbitrum_cctp.execute(self.world, self.ledger, sender, target, data, tx_hash)
                except arbitrum_cctp.Revert as revert:
                    status = 0
                    self.ledger.revert_reasons[tx_hash] = revert.reason
            elif target == USDC_CONTRACT and data[:4] == TRANSFER:
                recipient, amount = abi_decode(["address", "uint256"], data[4:])
                recipient = recipient.lower()
                if self.ledger.usdc.get(sender, 0) < amount:
                    status = 0  # reverted: ERC20 transfer amount exceeds balance
                else:
                    self.ledger.usdc[sender] -= amount
                    self.ledger.usdc[recipient] = self.ledger.usdc.get(recipient, 0) + amount
                    logs.append({"address": to_checksum_address(USDC_CONTRACT), "topics": [
                        arbitrum_cctp.TRANSFER_TOPIC, "0x" + "0" * 24 + sender[2:], "0x" + "0" * 24 + recipient[2:]],
                        "data": "0x" + abi_encode(["uint256"], [amount]).hex(), "logIndex": "0x0",
                        "transactionHash": tx_hash, "removed": False})
                    usdc = Decimal(amount).scaleb(-USDC_DECIMALS)
                    if recipient == HYPERLIQUID_BRIDGE and usdc >= MIN_BRIDGE_DEPOSIT_USDC:
                        self.world.bridge_deposit(sender, usdc)
                    # under the minimum the bridge keeps the USDC and credits nothing: lost, as documented
            elif target == USDC_CONTRACT:
                status = 0
            self.ledger.eth[sender] -= gas_used * GAS_PRICE_WEI
            block = self.ledger.block_number()
            block_hash = "0x" + keccak(text=f"dnbot-sim-arbitrum-{block}").hex()
            self.ledger.receipts[tx_hash] = {
                "transactionHash": tx_hash, "transactionIndex": "0x1", "blockHash": block_hash,
                "blockNumber": hex(block), "from": sender, "to": target, "cumulativeGasUsed": hex(gas_used),
                "gasUsed": hex(gas_used), "effectiveGasPrice": hex(GAS_PRICE_WEI), "contractAddress": None,
                "logs": [dict(log, logIndex=hex(index), transactionHash=tx_hash, blockNumber=hex(block),
                              blockHash=block_hash) for index, log in enumerate(logs)],
                "logsBloom": "0x" + "0" * 512, "status": hex(status), "type": hex(raw[0] if raw[0] <= 0x7F else 0)}
            self.ledger.transactions[tx_hash] = {"hash": tx_hash, "from": sender, "to": target, "nonce": hex(nonce),
                                                 "input": "0x" + data.hex(), "blockNumber": hex(block),
                                                 "chainId": hex(CHAIN_ID)}
        return tx_hash


class FundRequest(BaseModel):
    address: str
    usdc: Decimal = Decimal(0)
    eth: Decimal = Decimal(0)  # for gas

    @field_validator("usdc", "eth", mode="before")
    @classmethod
    def _decimal(cls, value: Any) -> Decimal:
        parsed = parse_decimal(value, "amount")
        if parsed is None or parsed < 0:
            raise ValueError("a non-negative amount is required")
        return parsed


def build_app(world: Any) -> AnyPath:
    node = ArbitrumNode(world)
    app = FastAPI(title="dnbot sim: Arbitrum JSON-RPC", openapi_url=None)

    @app.post("/")
    async def rpc(request: Request) -> Response:
        return await serve_jsonrpc(request, world, VENUE, node.dispatch)

    app.state.node = node
    return AnyPath(app)


def build_control(world: Any) -> APIRouter:
    ledger = ledger_for(world)
    router = APIRouter()

    @router.post("/fund")
    def fund(body: FundRequest) -> dict[str, str]:
        try:
            address = _address(body.address)
        except JsonRpcError as exc:
            raise HTTPException(status_code=400, detail=exc.message) from exc
        with ledger.lock:
            ledger.usdc[address] = ledger.usdc.get(address, 0) + int(body.usdc.scaleb(USDC_DECIMALS))
            ledger.eth[address] = ledger.eth.get(address, 0) + int(body.eth.scaleb(ETH_DECIMALS))
        return balances(address)

    @router.get("/balances/{address}")
    def balances(address: str) -> dict[str, str]:
        usdc = ledger.usdc_ui(address)
        eth = Decimal(ledger.eth.get(address.lower(), 0)).scaleb(-ETH_DECIMALS)
        return {"address": address, "usdc": format(usdc.normalize(), "f") if usdc else "0",
                "eth": format(eth.normalize(), "f") if eth else "0"}

    return router


def create_venue(world: Any) -> Any:
    from dnbot.sim.venue import SimVenue

    return SimVenue(prefix="/arbitrum", app=build_app(world), control=build_control(world))
