"""`/solana`: a Solana JSON-RPC 2.0 node over the simulator's ledger.

It answers the methods the adapters and solana-py's client use, in the shapes of a real node's responses
(tests/fixtures/recorded/solana/rpc_recordings): getBalance, getAccountInfo, getTokenAccountsByOwner,
getTokenAccountBalance, getLatestBlockhash, isBlockhashValid, getSignatureStatuses, sendTransaction,
simulateTransaction, getSlot, getBlockHeight, getMinimumBalanceForRentExemption, getHealth, getVersion.
getAccountInfo also serves jitoSOL's and jupSOL's stake pool accounts (dnbot.sim.stake_pools: their redemption
rate, which Asgard's LST prices follow unless `/sim/asgard/lst-rate` moves the market under it).
Batches (a JSON array of requests) are answered with an array.

sendTransaction verifies every signature and the blockhash, charges the base fee, and executes what the
simulator can execute: system transfers, SPL token Transfer/TransferChecked between known token accounts,
idempotent associated-token-account creation, compute-budget and memo instructions. Anything else (a lending
protocol's instruction) is refused as a program the simulator does not run: those transactions go through the
Asgard venue's submit endpoints, as in production.

Control: `POST /sim/solana/fund {"address", "sol"?, "usdc"?, "mint"?|"token"?, "amount"?}` (decimal strings or
numbers; "mint" may be a mint address or an LST symbol such as "jitoSOL"); `GET /sim/solana/balances/{address}`.
"""

from __future__ import annotations

import asyncio
import base64
import copy
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, field_validator
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.token.state import TokenAccount, TokenAccountState
from solders.transaction import Transaction, VersionedTransaction

from dnbot.cctp import SOLANA_DOMAIN
from dnbot.cctp.solana import CCTP_PROGRAMS
from dnbot.security.transaction_validator import (
    ASSOCIATED_TOKEN_PROGRAM,
    COMPUTE_BUDGET_PROGRAM,
    MEMO_PROGRAM,
    SYSTEM_PROGRAM,
    TOKEN_PROGRAM,
    instructions_of,
)
from dnbot.sim.solana_cctp import SolanaCctpPrograms, programs_for
from dnbot.sim.solana_ledger import (
    FEE_LAMPORTS_PER_SIGNATURE,
    TOKEN_ACCOUNT_RENT_LAMPORTS,
    LedgerError,
    SolanaLedger,
    decode_transaction,
    ledger_for,
)
from dnbot.sim.stake_pools import SimStakePools, stake_pools_for

VENUE = "solana"
U64_MAX = 2**64 - 1  # the rentEpoch of rent-exempt accounts on current nodes
JsonRpcHandler = Callable[[list[Any]], Any]
MAX_TRANSACTION_BYTES = 1232  # a packet: nodes refuse bigger transactions


# --- JSON-RPC plumbing shared with the Arbitrum venue --------------------------------------------------------


class JsonRpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def rpc_error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "error": error, "id": request_id}


async def serve_jsonrpc(
    request: Request, world: Any, venue: str, dispatch: Callable[[str, list[Any]], Any]
) -> Response:
    """Parse one request or a batch, honour injected faults per method, answer in JSON-RPC 2.0."""
    from dnbot.sim.world import FaultKind

    try:
        payload = _json_loads(await request.body())
    except ValueError:
        return JSONResponse(rpc_error(None, -32700, "Parse error"))
    batch = isinstance(payload, list)
    calls = payload if batch else [payload]
    answers: list[dict[str, Any]] = []
    lose = False
    for call in calls:
        if not isinstance(call, dict) or "method" not in call:
            answers.append(rpc_error(None, -32600, "Invalid request"))
            continue
        method, request_id = str(call["method"]), call.get("id")
        fault = world.faults.take(venue, method)
        if fault is not None:
            if fault.kind is FaultKind.REJECT:
                # A node's refusal as real nodes send it: -32005 "node unhealthy" with its data object
                # (solders, under solana-py, cannot parse an error without `data`).
                answers.append(rpc_error(request_id, -32005, fault.message, {"numSlotsBehind": None}))
                continue
            if fault.kind is FaultKind.SERVER_ERROR:
                return Response("Service Unavailable", status_code=503)
            if fault.kind is FaultKind.TIMEOUT:
                await asyncio.sleep(fault.delay_seconds or 30.0)
                return Response("Gateway Timeout", status_code=504)
            if fault.kind is FaultKind.DELAY:
                await asyncio.sleep(fault.delay_seconds)
            if fault.kind is FaultKind.LOSE_RESPONSE:
                lose = True
        params = call.get("params") or []
        try:
            result = dispatch(method, params if isinstance(params, list) else [params])
            answers.append({"jsonrpc": "2.0", "result": result, "id": request_id})
        except JsonRpcError as exc:
            answers.append(rpc_error(request_id, exc.code, exc.message, exc.data))
        except LedgerError as exc:
            answers.append(ledger_error(request_id, exc))
    if lose:  # the node acted; the answer never arrives
        return Response("Gateway Timeout", status_code=504)
    return JSONResponse(answers if batch else answers[0])


def ledger_error(request_id: Any, exc: LedgerError) -> dict[str, Any]:
    """A refused transaction as a node reports it: -32002 carries the preflight simulation result."""
    if exc.code != -32002:
        return rpc_error(request_id, exc.code, exc.message, exc.data)
    data = exc.data if isinstance(exc.data, dict) else {}
    return rpc_error(request_id, -32002, f"Transaction simulation failed: {exc.message}", {
        "err": data.get("err", exc.message), "logs": data.get("logs", [exc.message]), "accounts": None,
        "unitsConsumed": 0, "returnData": None})


def _json_loads(raw: bytes) -> Any:
    import json

    return json.loads(raw.decode("utf-8-sig"))  # tolerate a BOM, as some recorded requests carry one


def parse_decimal(value: Any, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{name} must be a decimal number, got {value!r}") from None
    if amount < 0 or not amount.is_finite():
        raise ValueError(f"{name} must be a non-negative number")
    return amount


# --- the node ---------------------------------------------------------------------------------------------


class SolanaNode:
    def __init__(self, ledger: SolanaLedger, cctp: SolanaCctpPrograms | None = None,
                 stake_pools: SimStakePools | None = None) -> None:
        self.ledger = ledger
        self.cctp = cctp  # Circle CCTP V2's programs (dnbot.sim.solana_cctp); None: refused like any other
        self.stake_pools = stake_pools  # jitoSOL's and jupSOL's pool accounts (dnbot.sim.stake_pools); None: absent
        self._methods: dict[str, JsonRpcHandler] = {
            "getBalance": self.get_balance,
            "getAccountInfo": self.get_account_info,
            "getTokenAccountsByOwner": self.get_token_accounts_by_owner,
            "getTokenAccountBalance": self.get_token_account_balance,
            "getLatestBlockhash": self.get_latest_blockhash,
            "isBlockhashValid": self.is_blockhash_valid,
            "getSignatureStatuses": self.get_signature_statuses,
            "sendTransaction": self.send_transaction,
            "simulateTransaction": self.simulate_transaction,
            "getSlot": lambda _: self.ledger.slot(),
            "getBlockHeight": lambda _: self.ledger.block_height(),
            "getMinimumBalanceForRentExemption": self.get_minimum_balance,
            "getHealth": lambda _: "ok",
            "getVersion": lambda _: {"feature-set": 3294202862, "solana-core": "2.2.16"},
        }

    def dispatch(self, method: str, params: list[Any]) -> Any:
        handler = self._methods.get(method)
        if handler is None:
            raise JsonRpcError(-32601, "Method not found")
        try:
            return handler(params)
        except (IndexError, TypeError, KeyError) as exc:
            raise JsonRpcError(-32602, f"Invalid params: {exc}") from exc

    def _context(self) -> dict[str, Any]:
        return {"apiVersion": "2.2.16", "slot": self.ledger.slot()}

    @staticmethod
    def _pubkey(value: Any) -> str:
        try:
            return str(Pubkey.from_string(str(value)))
        except ValueError:
            raise JsonRpcError(-32602, "Invalid param: Invalid") from None

    # --- reads ---

    def get_balance(self, params: list[Any]) -> dict[str, Any]:
        address = self._pubkey(params[0])
        return {"context": self._context(), "value": self.ledger.balance_lamports(address)}

    def _token_account_json(
        self, account: str, owner: str, mint: str, raw: int, encoding: str
    ) -> dict[str, Any]:
        decimals = self.ledger.decimals(mint)
        if encoding == "jsonParsed":
            data: Any = {
                "parsed": {
                    "info": {
                        "isNative": False,
                        "mint": mint,
                        "owner": owner,
                        "state": "initialized",
                        "tokenAmount": _ui_amount(raw, decimals),
                    },
                    "type": "account",
                },
                "program": "spl-token",
                "space": 165,
            }
        else:
            state = TokenAccount(
                Pubkey.from_string(mint),
                Pubkey.from_string(owner),
                raw,
                None,
                TokenAccountState.Initialized,
                None,
                0,
                None,
            )
            data = [base64.b64encode(bytes(state)).decode(), "base64"]
        return {
            "data": data,
            "executable": False,
            "lamports": TOKEN_ACCOUNT_RENT_LAMPORTS,
            "owner": str(TOKEN_PROGRAM),
            "rentEpoch": U64_MAX,
            "space": 165,
        }

    def get_account_info(self, params: list[Any]) -> dict[str, Any]:
        address = self._pubkey(params[0])
        config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        encoding = config.get("encoding", "base64")
        token = self.ledger.token_account(address)
        pool = self.stake_pools.account(address) if self.stake_pools is not None else None
        program_account = pool or (self.cctp.account(address) if self.cctp is not None else None)
        value: dict[str, Any] | None
        if program_account is not None:
            value = {
                "data": [base64.b64encode(program_account.data).decode(), "base64"],
                "executable": False,
                "lamports": program_account.lamports,
                "owner": program_account.owner,
                "rentEpoch": U64_MAX,
                "space": len(program_account.data),
            }
        elif token is not None:
            owner, mint, raw = token
            value = self._token_account_json(address, owner, mint, raw, encoding)
        elif self.ledger.balance_lamports(address) > 0:
            data: Any = ["", "base64"] if encoding != "base58" else ["", "base58"]
            value = {
                "data": data,
                "executable": False,
                "lamports": self.ledger.balance_lamports(address),
                "owner": str(SYSTEM_PROGRAM),
                "rentEpoch": U64_MAX,
                "space": 0,
            }
        else:
            value = None
        return {"context": self._context(), "value": value}

    def get_token_accounts_by_owner(self, params: list[Any]) -> dict[str, Any]:
        owner = self._pubkey(params[0])
        selector = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        config = params[2] if len(params) > 2 and isinstance(params[2], dict) else {}
        mint = selector.get("mint")
        program = selector.get("programId")
        if mint is None and program is None:
            raise JsonRpcError(-32602, "Invalid params: expected mint or programId")
        if program is not None and program != str(TOKEN_PROGRAM):
            accounts: list[tuple[str, str, int]] = []
        else:
            accounts = self.ledger.owner_token_accounts(owner, self._pubkey(mint) if mint else None)
        encoding = config.get("encoding", "base64")
        value = [
            {"account": self._token_account_json(account, owner, m, raw, encoding), "pubkey": account}
            for account, m, raw in accounts
        ]
        return {"context": self._context(), "value": value}

    def get_token_account_balance(self, params: list[Any]) -> dict[str, Any]:
        account = self._pubkey(params[0])
        found = self.ledger.token_account(account)
        if found is None:
            raise JsonRpcError(-32602, "Invalid param: could not find account")
        _, mint, raw = found
        return {"context": self._context(), "value": _ui_amount(raw, self.ledger.decimals(mint))}

    def get_latest_blockhash(self, params: list[Any]) -> dict[str, Any]:
        blockhash, last_valid = self.ledger.latest_blockhash()
        return {
            "context": self._context(),
            "value": {"blockhash": str(blockhash), "lastValidBlockHeight": last_valid},
        }

    def is_blockhash_valid(self, params: list[Any]) -> dict[str, Any]:
        return {"context": self._context(), "value": self.ledger.blockhash_valid(str(params[0]))}

    def get_signature_statuses(self, params: list[Any]) -> dict[str, Any]:
        signatures = params[0]
        if not isinstance(signatures, list) or len(signatures) > 256:
            raise JsonRpcError(-32602, "Invalid params: expected at most 256 signatures")
        return {
            "context": self._context(),
            "value": [self.ledger.signature_status(str(s)) for s in signatures],
        }

    def get_minimum_balance(self, params: list[Any]) -> int:
        size = int(params[0])
        return (
            size + 128
        ) * 6960  # the mainnet rent formula: (data + 128 bytes) x 3480 lamports/byte-year x 2

    # --- writes ---

    def _decode_wire(self, params: list[Any]) -> VersionedTransaction | Transaction:
        config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        encoding = config.get("encoding", "base58")
        if encoding != "base64":
            # base58 is deprecated for transactions on real nodes too; every client we use sends base64.
            raise JsonRpcError(-32602, "the simulator accepts transactions in base64 encoding only")
        try:
            raw = base64.b64decode(params[0], validate=True)
        except ValueError as exc:
            raise JsonRpcError(-32602, f"invalid transaction: {exc}") from exc
        if len(raw) > MAX_TRANSACTION_BYTES:
            raise JsonRpcError(-32602, "base64 encoded solana_sdk::transaction::versioned::VersionedTransaction "
                               f"too large: {len(raw)} bytes (max: encoded/raw 1644/{MAX_TRANSACTION_BYTES})")
        return decode_transaction(raw)

    def send_transaction(self, params: list[Any]) -> str:
        tx = self._decode_wire(params)
        with self.ledger.lock:
            signature = self.ledger.verify_signed(tx)
            self._execute(tx, dry_run=False)
            self.ledger.record_signature(signature)
        return signature

    def simulate_transaction(self, params: list[Any]) -> dict[str, Any]:
        tx = self._decode_wire(params)
        config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        err: Any = None
        logs: list[str] = []
        with self.ledger.lock:
            try:
                if config.get("sigVerify"):
                    self.ledger.verify_signed(tx)
                logs = self._execute(tx, dry_run=True)
            except LedgerError as exc:
                err = (exc.data or {}).get("err", exc.message) if isinstance(exc.data, dict) else exc.message
                logs = [exc.message]
        return {
            "context": self._context(),
            "value": {
                "err": err,
                "logs": logs,
                "accounts": None,
                "unitsConsumed": 450 * len(logs),
                "returnData": None,
            },
        }

    def _execute(self, tx: VersionedTransaction | Transaction, dry_run: bool) -> list[str]:
        """Apply the transaction atomically (or only check it, for a simulation); returns the program logs."""
        ledger = self.ledger
        saved = (copy.copy(ledger.lamports), copy.copy(ledger.tokens), copy.copy(ledger.token_accounts))
        saved_cctp = self.cctp.snapshot() if self.cctp is not None else {}
        emitted: list[bytes] = []  # CCTP messages sent, handed to the attesters once the transaction commits
        message = tx.message
        if not isinstance(message, Message | MessageV0):
            raise LedgerError("unsupported transaction version", code=-32602)
        logs: list[str] = []
        try:
            payer = str(message.account_keys[0])
            ledger.debit_lamports(payer, FEE_LAMPORTS_PER_SIGNATURE * message.header.num_required_signatures)
            signers = {str(k) for k in message.account_keys[: message.header.num_required_signatures]}
            for view in instructions_of(message):
                program = view.program_id
                logs.append(f"Program {program} invoke [1]")
                accounts = [str(a) if a is not None else "" for a in view.accounts]
                if program == SYSTEM_PROGRAM and view.data[:4] == (2).to_bytes(4, "little"):
                    lamports = int.from_bytes(view.data[4:12], "little")
                    if accounts[0] not in signers:
                        raise LedgerError("missing required signature for instruction", code=-32002)
                    try:
                        ledger.debit_lamports(accounts[0], lamports)
                    except LedgerError as exc:
                        raise LedgerError(
                            f"Transfer: insufficient lamports {ledger.balance_lamports(accounts[0])}, "
                            f"need {lamports}",
                            data={"err": {"InstructionError": [view.index, {"Custom": 1}]}},
                        ) from exc
                    ledger.credit_lamports(accounts[1], lamports)
                elif program == TOKEN_PROGRAM and view.data[:1] in (b"\x03", b"\x0c"):
                    checked = view.data[0] == 12
                    source, dest = accounts[0], accounts[2 if checked else 1]
                    authority = accounts[3 if checked else 2]
                    amount = int.from_bytes(view.data[1:9], "little")
                    self._token_transfer(view.index, source, dest, authority, amount, signers)
                elif program == ASSOCIATED_TOKEN_PROGRAM:
                    ata, owner, mint = accounts[1], accounts[2], accounts[3]
                    if ledger.ata(owner, mint) != ata:
                        raise LedgerError(
                            "Provided address does not match addressed derived from seed",
                            data={"err": {"InstructionError": [view.index, "InvalidSeeds"]}},
                        )
                    if ledger.token_account(ata) is None:
                        ledger.debit_lamports(accounts[0], TOKEN_ACCOUNT_RENT_LAMPORTS)
                        ledger.credit_token(owner, mint, 0)
                elif self.cctp is not None and program in CCTP_PROGRAMS:
                    message_sent = self.cctp.execute(view, signers)
                    if message_sent is not None:
                        emitted.append(message_sent)
                elif program not in (COMPUTE_BUDGET_PROGRAM, MEMO_PROGRAM):
                    raise LedgerError(
                        f"Attempt to load a program that does not exist (the simulator does not run {program}; "
                        "submit lending transactions through the Asgard venue)",
                        data={"err": {"InstructionError": [view.index, "UnsupportedProgramId"]}},
                    )
                logs.append(f"Program {program} success")
        except LedgerError:
            ledger.lamports, ledger.tokens, ledger.token_accounts = saved
            if self.cctp is not None:
                self.cctp.restore(saved_cctp)
            raise
        if dry_run:
            ledger.lamports, ledger.tokens, ledger.token_accounts = saved
            if self.cctp is not None:
                self.cctp.restore(saved_cctp)
        elif self.cctp is not None:
            for message_sent in emitted:
                self.cctp.hub.burned(SOLANA_DOMAIN, str(tx.signatures[0]), message_sent)
        return logs

    def _token_transfer(
        self, index: int, source: str, dest: str, authority: str, amount: int, signers: set[str]
    ) -> None:
        ledger = self.ledger
        source_account = ledger.token_account(source)
        dest_account = ledger.token_account(dest)
        if source_account is None or dest_account is None:
            raise LedgerError(
                "invalid account data for instruction",
                data={"err": {"InstructionError": [index, "InvalidAccountData"]}},
            )
        owner, mint, _ = source_account
        if authority != owner or authority not in signers:
            raise LedgerError(
                "owner does not match", data={"err": {"InstructionError": [index, {"Custom": 4}]}}
            )
        if dest_account[1] != mint:
            raise LedgerError(
                "Account not associated with this Mint",
                data={"err": {"InstructionError": [index, {"Custom": 3}]}},
            )
        ledger.debit_token(owner, mint, amount)
        ledger.credit_token(dest_account[0], mint, amount)


def _ui_amount(raw: int, decimals: int) -> dict[str, Any]:
    ui = Decimal(raw).scaleb(-decimals)
    text = format(ui.normalize(), "f") if raw else "0"
    return {"amount": str(raw), "decimals": decimals, "uiAmount": float(ui), "uiAmountString": text}


# --- the venue ------------------------------------------------------------------------------------------


class FundRequest(BaseModel):
    address: str
    sol: Decimal | None = None
    usdc: Decimal | None = None
    mint: str | None = None
    token: str | None = None  # alias of mint (an LST symbol such as "jitoSOL")
    amount: Decimal | None = None

    @field_validator("sol", "usdc", "amount", mode="before")
    @classmethod
    def _decimal(cls, value: Any) -> Decimal | None:
        return parse_decimal(value, "amount")


def build_app(world: Any) -> AnyPath:
    node = SolanaNode(ledger_for(world), cctp=programs_for(world), stake_pools=stake_pools_for(world))
    app = FastAPI(title="dnbot sim: Solana JSON-RPC", openapi_url=None)

    @app.post("/")
    async def rpc(request: Request) -> Response:
        return await serve_jsonrpc(request, world, VENUE, node.dispatch)

    app.state.node = node
    return AnyPath(app)


class AnyPath:
    """ASGI wrapper: a JSON-RPC node answers at whatever path it is reached by ("/solana", "/solana/").

    Mounted at a prefix, Starlette routes only "/solana/..." into the sub-application and answers a bare
    "/solana" with a 307 redirect that RPC clients do not follow; the server therefore also routes the bare
    prefix here (see docs/simulator.md), and this wrapper makes both paths reach the one endpoint.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "path": "/", "raw_path": b"/", "root_path": ""}
        await self.app(scope, receive, send)


def build_control(world: Any) -> APIRouter:
    ledger = ledger_for(world)
    router = APIRouter()

    @router.post("/fund")
    def fund(body: FundRequest) -> dict[str, str]:
        try:
            return ledger.fund(
                body.address, sol=body.sol, usdc=body.usdc, mint=body.mint or body.token, amount=body.amount
            )
        except LedgerError as exc:
            raise HTTPException(status_code=400, detail=exc.message) from exc

    @router.get("/balances/{address}")
    def balances(address: str) -> dict[str, str]:
        return ledger.describe(address)

    return router


def create_venue(world: Any) -> Any:
    from dnbot.sim.venue import SimVenue

    return SimVenue(prefix="/solana", app=build_app(world), control=build_control(world))


# Exported for the Arbitrum venue (same JSON-RPC envelope).
__all__ = [
    "AnyPath",
    "JsonRpcError",
    "SolanaNode",
    "build_app",
    "build_control",
    "create_venue",
    "parse_decimal",
    "rpc_error",
    "serve_jsonrpc",
]
