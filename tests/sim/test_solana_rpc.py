"""`/solana` against solana-py's own client (unmodified) and raw JSON-RPC: balances, blockhash, transfers."""

from __future__ import annotations

import asyncio
import base64
from decimal import Decimal
from typing import Any

import httpx
import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.models import TokenAccountOpts
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from spl.token.instructions import transfer_checked
from spl.token.models import TransferCheckedParams

from dnbot.domain.assets import USDC, Asset
from dnbot.sim.server import RunningSim
from dnbot.sim.solana_ledger import ledger_for
from dnbot.sim.world import Fault, FaultKind

TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_solana_py_reads_sol_usdc_and_lst_balances(sim: RunningSim) -> None:
    base_url = sim.base_url
    owner = Keypair().pubkey()
    funded = httpx.post(
        f"{base_url}/sim/solana/fund", json={"address": str(owner), "sol": "1.5", "usdc": 250.25}
    ).json()
    assert funded["sol"] == "1.5" and funded["usdc"] == "250.25"
    assert (
        httpx.post(
            f"{base_url}/sim/solana/fund", json={"address": str(owner), "token": "jitoSOL", "amount": "3"}
        ).status_code
        == 200
    )

    async def read() -> tuple[int, Any, Any, Any]:
        async with AsyncClient(f"{base_url}/solana") as client:
            balance = await client.get_balance(owner)
            usdc = await client.get_token_accounts_by_owner_json_parsed(
                owner, TokenAccountOpts(mint=Pubkey.from_string(USDC.mint))
            )
            everything = await client.get_token_accounts_by_owner(
                owner, TokenAccountOpts(program_id=TOKEN_PROGRAM)
            )
            ata = usdc.value[0].pubkey
            token_balance = await client.get_token_account_balance(ata)
            return balance.value, usdc, everything, token_balance

    lamports, usdc, everything, token_balance = run(read())
    assert lamports == 1_500_000_000
    parsed = usdc.value[0].account.data.parsed["info"]
    assert parsed["tokenAmount"]["amount"] == "250250000" and parsed["owner"] == str(owner)
    mints = {
        bytes(acc.account.data)[:32] for acc in everything.value
    }  # base64 SPL account layout: mint first
    assert {
        bytes(Pubkey.from_string(USDC.mint)),
        bytes(Pubkey.from_string(Asset.JITOSOL.token.mint)),
    } == mints
    assert token_balance.value.ui_amount_string == "250.25" and token_balance.value.decimals == 6


def test_blockhash_send_transfer_and_signature_status(sim: RunningSim) -> None:
    base_url, world = sim.base_url, sim.world
    alice, bob = Keypair(), Keypair()
    httpx.post(f"{base_url}/sim/solana/fund", json={"address": str(alice.pubkey()), "sol": 2, "usdc": 100})
    httpx.post(f"{base_url}/sim/solana/fund", json={"address": str(bob.pubkey()), "usdc": "0.000001"})
    ledger = ledger_for(world)
    alice_usdc = Pubkey.from_string(ledger.ata(str(alice.pubkey()), USDC.mint))
    bob_usdc = Pubkey.from_string(ledger.ata(str(bob.pubkey()), USDC.mint))

    async def go() -> tuple[Any, Any, Any]:
        async with AsyncClient(f"{base_url}/solana") as client:
            blockhash = (await client.get_latest_blockhash()).value.blockhash
            message = MessageV0.try_compile(
                alice.pubkey(),
                [
                    transfer(
                        TransferParams(
                            from_pubkey=alice.pubkey(), to_pubkey=bob.pubkey(), lamports=250_000_000
                        )
                    ),
                    transfer_checked(
                        TransferCheckedParams(
                            program_id=TOKEN_PROGRAM,
                            source=alice_usdc,
                            mint=Pubkey.from_string(USDC.mint),
                            dest=bob_usdc,
                            owner=alice.pubkey(),
                            amount=40_000_000,
                            decimals=6,
                        )
                    ),
                ],
                [],
                blockhash,
            )
            tx = VersionedTransaction(message, [alice])
            sent = await client.send_raw_transaction(bytes(tx))
            statuses = await client.get_signature_statuses([sent.value])
            again = await client.send_raw_transaction(bytes(tx))
            return sent, statuses, again

    with pytest.raises(Exception, match="already been processed"):
        run(go())
    # The first send landed before the duplicate was refused.
    assert ledger.balance_lamports(str(bob.pubkey())) == 250_000_000
    assert ledger.balance_lamports(str(alice.pubkey())) == 2_000_000_000 - 250_000_000 - 5_000
    assert ledger.token_ui(str(alice.pubkey()), USDC.mint) == Decimal(60)
    assert ledger.token_ui(str(bob.pubkey()), USDC.mint) == Decimal("40.000001")
    statuses = list(ledger.signatures)
    assert len(statuses) == 1
    status = ledger.signature_status(statuses[0])
    assert status is not None and status["err"] is None and status["confirmationStatus"] == "confirmed"


def test_forged_signature_and_unknown_signature(sim: RunningSim) -> None:
    base_url = sim.base_url
    alice, mallory = Keypair(), Keypair()
    httpx.post(f"{base_url}/sim/solana/fund", json={"address": str(alice.pubkey()), "sol": 1})
    blockhash = httpx.post(
        f"{base_url}/solana", json={"jsonrpc": "2.0", "id": 1, "method": "getLatestBlockhash"}
    ).json()["result"]["value"]["blockhash"]
    from solders.hash import Hash

    message = MessageV0.try_compile(
        alice.pubkey(),
        [transfer(TransferParams(from_pubkey=alice.pubkey(), to_pubkey=mallory.pubkey(), lamports=1))],
        [],
        Hash.from_string(blockhash),
    )
    forged = VersionedTransaction.populate(message, [mallory.sign_message(_msg(message))])
    answer = httpx.post(
        f"{base_url}/solana",
        json={
            "jsonrpc": "2.0",
            "id": 7,
            "method": "sendTransaction",
            "params": [base64.b64encode(bytes(forged)).decode(), {"encoding": "base64"}],
        },
    ).json()
    assert answer["id"] == 7 and "signature verification failure" in answer["error"]["message"]
    unknown = httpx.post(
        f"{base_url}/solana",
        json={
            "jsonrpc": "2.0",
            "id": 8,
            "method": "getSignatureStatuses",
            "params": [[str(forged.signatures[0])]],
        },
    ).json()
    assert unknown["result"]["value"] == [None]


def _msg(message: MessageV0) -> bytes:
    from solders.message import to_bytes_versioned

    return to_bytes_versioned(message)


def test_batch_with_bom_and_injected_faults(sim: RunningSim) -> None:
    base_url, world = sim.base_url, sim.world
    owner = str(Keypair().pubkey())
    batch = (f'[{{"method":"getBalance","params":["{owner}"],"jsonrpc":"2.0","id":0}},'
             '{"method":"getSlot","jsonrpc":"2.0","id":1}]')
    body = ("\ufeff" + batch).encode("utf-8")
    answers = httpx.post(
        f"{base_url}/solana", content=body, headers={"content-type": "application/json"}
    ).json()
    assert [a["id"] for a in answers] == [0, 1] and answers[0]["result"]["value"] == 0
    world.faults.inject(Fault("solana", "getBalance", FaultKind.SERVER_ERROR))
    single = {"jsonrpc": "2.0", "id": 1, "method": "getBalance", "params": [owner]}
    assert httpx.post(f"{base_url}/solana", json=single).status_code == 503
    world.faults.inject(Fault("solana", "getBalance", FaultKind.REJECT, message="node is behind"))
    assert httpx.post(f"{base_url}/solana", json=single).json()["error"]["message"] == "node is behind"
    assert httpx.post(f"{base_url}/solana", json=single).json()["result"]["value"] == 0
