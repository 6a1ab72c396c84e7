"""The Solana adapter and the `/solana` node against the recorded real node responses
(tests/fixtures/recorded/solana/rpc_recordings, from bmresearch/Solnet, MIT), and the adapter against the
simulator."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair

from dnbot.adapters.solana.rpc import SolanaRpc
from dnbot.domain.assets import Asset
from dnbot.ports import TransientVenueError
from dnbot.sim.server import RunningSim
from dnbot.sim.solana_ledger import ledger_for
from dnbot.sim.world import Fault, FaultKind

RECORDINGS = (Path(__file__).resolve().parents[2] / "fixtures" / "recorded" / "solana" / "rpc_recordings" / "test"
              / "Solnet.Rpc.Test" / "Resources" / "Http")


def recorded(name: str) -> Any:
    return json.loads((RECORDINGS / name).read_text(encoding="utf-8-sig"))  # some files start with a BOM


def replaying(responses: dict[str, str]) -> httpx.MockTransport:
    """A node that answers each method with its recorded real response."""

    def handle(request: httpx.Request) -> httpx.Response:
        method = json.loads(request.content)["method"]
        return httpx.Response(200, json=recorded(responses[method]))

    return httpx.MockTransport(handle)


def test_adapter_parses_recorded_real_responses() -> None:
    rpc = SolanaRpc("https://recorded.invalid", transport=replaying({
        "getBalance": "GetBalanceResponse.json",
        "getLatestBlockhash": "Blocks/GetLatestBlockhashResponse.json",
        "getSignatureStatuses": "Signatures/GetSignatureStatusesResponse.json",
        "getTokenAccountsByOwner": "Token/GetTokenAccountsByOwnerResponse.json",
    }))
    assert rpc.sol_balance("hoakwpFB8UoLnPpLC56gsjpY7XbVwaCuRQRMQzN5TVh") == Decimal("168.855")
    assert rpc.latest_blockhash() == ("DDFfxGAsEVcqNbCLRgvDtzcc2ZxNnqJfQJfMTRhEEPwW", 115143990)
    status = rpc.signature_status(
        "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW")
    assert status is not None and (status.slot, status.confirmation_status, status.error) == (72, "confirmed", None)
    # The recording lists seven mints of 10.00 each; only the asked mint counts.
    assert rpc.token_balance("9we6kjtbcZ2vy3GSLLsZTEhbAqXPTRvEyoxa8wxSqKp5",
                             "V15kW7xzaTJRDbdbC35GYT6QUcBtDzwmhrnGZDRtR2j", 2) == Decimal("10")


def test_adapter_maps_node_failures() -> None:
    rpc = SolanaRpc("https://recorded.invalid", transport=httpx.MockTransport(lambda r: httpx.Response(503)))
    with pytest.raises(TransientVenueError):
        rpc.sol_balance("hoakwpFB8UoLnPpLC56gsjpY7XbVwaCuRQRMQzN5TVh")
    rpc = SolanaRpc("https://recorded.invalid",
                    transport=httpx.MockTransport(lambda r: httpx.Response(200, json=recorded(
                        "StringErrorResponse.json"))))
    with pytest.raises(TransientVenueError):
        rpc.sol_balance("hoakwpFB8UoLnPpLC56gsjpY7XbVwaCuRQRMQzN5TVh")


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return None if value is None else type(value).__name__


NULLABLE = {"accounts", "err", "returnData", "confirmations", "unitsConsumed"}


def covers(actual: Any, expected: Any, path: str = "") -> list[str]:
    """Where the simulator's answer lacks a field of the real one, or gives it another type (a nullable RPC
    field may be null, e.g. simulateTransaction's `accounts` when none were asked for)."""
    if actual is None and path.rsplit(".", 1)[-1] in NULLABLE:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object"]
        problems: list[str] = []
        for key, item in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += covers(actual[key], item, f"{path}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list"]
        return covers(actual[0], expected[0], f"{path}[0]") if expected and actual else []
    if expected is None or actual is None or expected == actual:
        return []
    return [f"{path}: {actual} instead of {expected}"]


@pytest.mark.parametrize(("request_file", "response_file"), [
    ("GetBalanceRequest.json", "GetBalanceResponse.json"),
    ("Blocks/GetLatestBlockhashRequest.json", "Blocks/GetLatestBlockhashResponse.json"),
    ("Token/GetTokenAccountsByOwnerRequest.json", "Token/GetTokenAccountsByOwnerResponse.json"),
    ("Accounts/GetAccountInfoRequest.json", "Accounts/GetAccountInfoResponse.json"),
    ("Batch/SampleBatchRequest.json", "Batch/SampleBatchResponse.json"),
    ("Signatures/GetSignatureStatusesRequest.json", "Signatures/GetSignatureStatusesResponse.json"),
    ("Transaction/SimulateTransactionRequest.json", "Transaction/SimulateTransactionResponse.json"),
    ("Transaction/SimulateTransactionRequest.json", "Transaction/SimulateTransactionInsufficientLamportsResponse.json"),
])
def test_simulator_answers_in_the_recorded_shapes(sim: RunningSim, request_file: str,
                                                  response_file: str) -> None:
    base_url, world = sim.base_url, sim.world
    ledger = ledger_for(world)
    for owner in ("hoakwpFB8UoLnPpLC56gsjpY7XbVwaCuRQRMQzN5TVh", "9we6kjtbcZ2vy3GSLLsZTEhbAqXPTRvEyoxa8wxSqKp5"):
        ledger.fund(owner, sol=Decimal(1), usdc=Decimal(5))
    ledger.record_signature(  # the first signature GetSignatureStatusesRequest asks about
        "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW")
    raw = (RECORDINGS / request_file).read_bytes()  # sent as recorded, BOM included
    answer = httpx.post(f"{base_url}/solana", content=raw, headers={"content-type": "application/json"}).json()
    expected = recorded(response_file)
    problems = covers(shape(answer), shape(expected))
    assert problems == [], problems


def test_adapter_against_the_simulator(sim: RunningSim) -> None:
    base_url = sim.base_url
    owner = str(Keypair().pubkey())
    httpx.post(f"{base_url}/sim/solana/fund", json={"address": owner, "sol": "0.75", "usdc": "12.5"})
    httpx.post(f"{base_url}/sim/solana/fund", json={"address": owner, "mint": "INF", "amount": "2.25"})
    rpc = SolanaRpc(f"{base_url}/solana")
    assert rpc.sol_balance(owner) == Decimal("0.75")
    assert rpc.usdc_balance(owner) == Decimal("12.5")
    assert rpc.lst_balances(owner) == {Asset.JITOSOL: 0, Asset.JUPSOL: 0, Asset.INF: Decimal("2.25")}
    blockhash, last_valid = rpc.latest_blockhash()
    assert len(blockhash) >= 32 and last_valid > 0
    assert rpc.signature_status(str(Keypair().sign_message(b"never sent"))) is None


def test_adapter_maps_simulator_faults(sim: RunningSim) -> None:
    base_url, world = sim.base_url, sim.world
    world.faults.inject(Fault("solana", "getBalance", FaultKind.REJECT))
    with pytest.raises(TransientVenueError):
        SolanaRpc(f"{base_url}/solana").sol_balance(str(Keypair().pubkey()))
