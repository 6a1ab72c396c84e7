"""Circle CCTP V2 contracts of the simulated Arbitrum One node (`dnbot.sim.arbitrum`): USDC `approve` and
`allowance`, TokenMessengerV2 `depositForBurn` and MessageTransmitterV2 `receiveMessage` / `usedNonces`.

They check what circlefin/evm-cctp-contracts `src/v2/TokenMessengerV2.sol` and `MessageTransmitterV2.sol` check,
with the same revert reasons: a burn needs amount > 0, a mint recipient, `maxFee < amount`, a remote messenger for
the destination (Solana only), USDC as the burn token and the allowance; it spends the allowance, burns, and emits
`MessageSent(bytes)` with the message (empty nonce) the simulated attesters then sign (`dnbot.sim.cctp`). A mint
verifies the attestation (the hub, as MessageTransmitterV2 does), the destination (3), the caller, the version and
the nonce, marks the nonce used, and mints `amount - feeExecuted` to the burn body's recipient (the fee to the fee
recipient) after TokenMessengerV2's sender, finality, expiry and fee checks.

`execute(..., dry=True)` runs the same checks without changing anything: eth_estimateGas and eth_call answer
"execution reverted: <reason>" as a node does.
"""

from __future__ import annotations

from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from dnbot.adapters.evm.cctp import ALLOWANCE, MESSAGE_SENT_TOPIC, USED_NONCES  # the client's selectors
from dnbot.cctp import (
    ARBITRUM_DOMAIN,
    ARBITRUM_MESSAGE_TRANSMITTER_V2,
    ARBITRUM_TOKEN_MESSENGER_V2,
    ARBITRUM_USDC,
    SOLANA_DOMAIN,
    SOLANA_TOKEN_MESSENGER_MINTER_V2,
    SOLANA_USDC_MINT,
)
from dnbot.cctp.message import (
    BURN_BODY_VERSION,
    MESSAGE_VERSION,
    BurnBody,
    CctpMessage,
    InvalidAttestation,
    MalformedMessage,
    bytes32_to_evm,
    evm_to_bytes32,
    solana_to_bytes32,
)
from dnbot.security.evm_validator import APPROVE, DEPOSIT_FOR_BURN, RECEIVE_MESSAGE
from dnbot.sim.cctp import hub_for

USDC = ARBITRUM_USDC.lower()
TOKEN_MESSENGER = ARBITRUM_TOKEN_MESSENGER_V2.lower()
MESSAGE_TRANSMITTER = ARBITRUM_MESSAGE_TRANSMITTER_V2.lower()
FEE_RECIPIENT = "0x" + keccak(text="dnbot-sim-cctp-fee-recipient").hex()[-40:]  # TokenMessengerV2.feeRecipient
# Remote TokenMessengers (TokenMessengerV2.remoteTokenMessengers) and token pairs (TokenMinterV2), Solana only.
REMOTE_TOKEN_MESSENGERS = {SOLANA_DOMAIN: solana_to_bytes32(SOLANA_TOKEN_MESSENGER_MINTER_V2)}
TOKEN_PAIRS = {(SOLANA_DOMAIN, solana_to_bytes32(SOLANA_USDC_MINT)): USDC}
MIN_UNFINALIZED_THRESHOLD = 500  # TokenMessengerV2.TOKEN_MESSENGER_MIN_FINALITY_THRESHOLD

TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
APPROVAL_TOPIC = "0x" + keccak(text="Approval(address,address,uint256)").hex()
MESSAGE_RECEIVED_TOPIC = "0x" + keccak(text="MessageReceived(address,uint32,bytes32,bytes32,uint32,bytes)").hex()
# Gas used, as the node charges it (modelled: Arbitrum's real figures, L1 data included, are unverified).
GAS = {(USDC, APPROVE): 55_000, (TOKEN_MESSENGER, DEPOSIT_FOR_BURN): 160_000,
       (MESSAGE_TRANSMITTER, RECEIVE_MESSAGE): 190_000}
_ZERO_ADDRESS = "0x" + "0" * 40


class Revert(Exception):
    """The call reverted with this reason (Solidity `require`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def handles(target: str, data: bytes) -> bool:
    """A call this module executes (the USDC transfer stays in `dnbot.sim.arbitrum`)."""
    return (target, bytes(data[:4])) in GAS


def gas_for(target: str, data: bytes) -> int | None:
    return GAS.get((target, bytes(data[:4])))


def read(ledger: Any, target: str, data: bytes) -> bytes | None:
    """eth_call of a view: USDC allowance(owner, spender), MessageTransmitterV2 usedNonces(nonce); None if not one."""
    if target == USDC and data[:4] == ALLOWANCE:
        owner, spender = abi_decode(["address", "address"], data[4:])
        return abi_encode(["uint256"], [ledger.allowances.get((owner.lower(), spender.lower()), 0)])
    if target == MESSAGE_TRANSMITTER and data[:4] == USED_NONCES:
        (nonce,) = abi_decode(["bytes32"], data[4:])
        return abi_encode(["uint256"], [ledger.used_nonces.get(bytes(nonce), 0)])
    return None


def execute(world: Any, ledger: Any, sender: str, target: str, data: bytes, tx_hash: str, *,
            dry: bool = False) -> tuple[bytes, list[dict[str, Any]]]:
    """Run the call of `sender` (lower case) under the ledger's lock: (return data, logs), or Revert. `dry`
    changes nothing (eth_call, eth_estimateGas)."""
    selector = bytes(data[:4])
    try:
        if target == USDC and selector == APPROVE:
            return _approve(ledger, sender, data, dry)
        if target == TOKEN_MESSENGER and selector == DEPOSIT_FOR_BURN:
            return _deposit_for_burn(world, ledger, sender, data, tx_hash, dry)
        if target == MESSAGE_TRANSMITTER and selector == RECEIVE_MESSAGE:
            return _receive_message(world, ledger, sender, data, dry)
    except (DecodingError, MalformedMessage) as bad:
        raise Revert(f"malformed input: {bad}") from None
    raise Revert("function selector was not recognized")


def _log(address: str, topics: list[str], data: bytes, tx_hash: str) -> dict[str, Any]:
    return {"address": to_checksum_address(address), "topics": topics, "data": "0x" + data.hex(),
            "transactionHash": tx_hash, "removed": False}


def _topic(address: str) -> str:
    return "0x" + "0" * 24 + address.removeprefix("0x")


def _approve(ledger: Any, sender: str, data: bytes, dry: bool) -> tuple[bytes, list[dict[str, Any]]]:
    spender, amount = abi_decode(["address", "uint256"], data[4:])
    spender = spender.lower()
    if not dry:
        ledger.allowances[(sender, spender)] = amount
    return abi_encode(["bool"], [True]), [_log(USDC, [APPROVAL_TOPIC, _topic(sender), _topic(spender)],
                                               abi_encode(["uint256"], [amount]), "")]


def _deposit_for_burn(world: Any, ledger: Any, sender: str, data: bytes, tx_hash: str,
                      dry: bool) -> tuple[bytes, list[dict[str, Any]]]:
    amount, domain, mint_recipient, burn_token, caller, max_fee, min_finality = abi_decode(
        ["uint256", "uint32", "bytes32", "address", "bytes32", "uint256", "uint32"], data[4:])
    if amount == 0:
        raise Revert("Amount must be nonzero")
    if mint_recipient == bytes(32):
        raise Revert("Mint recipient must be nonzero")
    if max_fee >= amount:
        raise Revert("Max fee must be less than amount")
    remote = REMOTE_TOKEN_MESSENGERS.get(domain)
    if remote is None:
        raise Revert("No TokenMessenger for domain")
    if burn_token.lower() != USDC:
        raise Revert("Burn token not supported")
    if ledger.allowances.get((sender, TOKEN_MESSENGER), 0) < amount:
        raise Revert("ERC20: transfer amount exceeds allowance")
    if ledger.usdc.get(sender, 0) < amount:
        raise Revert("ERC20: transfer amount exceeds balance")
    body = BurnBody(burn_token=evm_to_bytes32(USDC), mint_recipient=bytes(mint_recipient), amount=amount,
                    message_sender=evm_to_bytes32(sender), max_fee=max_fee, version=BURN_BODY_VERSION)
    message = CctpMessage(source_domain=ARBITRUM_DOMAIN, destination_domain=domain,
                          sender=evm_to_bytes32(TOKEN_MESSENGER), recipient=remote, destination_caller=bytes(caller),
                          min_finality_threshold=min_finality, body=body.encode(),
                          version=MESSAGE_VERSION).encode()
    logs = [_log(USDC, [TRANSFER_TOPIC, _topic(sender), _topic(TOKEN_MESSENGER)],
                 abi_encode(["uint256"], [amount]), tx_hash),
            _log(USDC, [TRANSFER_TOPIC, _topic(TOKEN_MESSENGER), _topic(_ZERO_ADDRESS)],
                 abi_encode(["uint256"], [amount]), tx_hash),
            _log(MESSAGE_TRANSMITTER, [MESSAGE_SENT_TOPIC], abi_encode(["bytes"], [message]), tx_hash)]
    if not dry:
        ledger.allowances[(sender, TOKEN_MESSENGER)] -= amount
        ledger.usdc[sender] -= amount
        hub_for(world).burned(ARBITRUM_DOMAIN, tx_hash, message)
    return b"", logs


def _receive_message(world: Any, ledger: Any, sender: str, data: bytes,
                     dry: bool) -> tuple[bytes, list[dict[str, Any]]]:
    raw_message, attestation = abi_decode(["bytes", "bytes"], data[4:])
    try:
        message = hub_for(world).verify(bytes(raw_message), bytes(attestation))
    except InvalidAttestation as bad:
        raise Revert(f"Invalid signature: {bad}") from None
    if message.destination_domain != ARBITRUM_DOMAIN:
        raise Revert("Invalid destination domain")
    if message.destination_caller != bytes(32) and message.destination_caller != evm_to_bytes32(sender):
        raise Revert("Invalid caller for message")
    if message.version != MESSAGE_VERSION:
        raise Revert("Invalid message version")
    if ledger.used_nonces.get(message.nonce, 0):
        raise Revert("Nonce already used")
    # MessageTransmitterV2 hands the body to the recipient: only TokenMessengerV2 is deployed here
    if message.recipient != evm_to_bytes32(TOKEN_MESSENGER):
        raise Revert("function call to a non-contract account")
    if REMOTE_TOKEN_MESSENGERS.get(message.source_domain) != message.sender:
        raise Revert("Remote TokenMessenger unsupported")
    body = message.burn
    if body.version != BURN_BODY_VERSION:
        raise Revert("Invalid message body version")
    if message.finality_threshold_executed < MIN_UNFINALIZED_THRESHOLD:
        raise Revert("Unsupported finality threshold")
    # TokenMessengerV2._validatedReceivedMessage, for finalized and unfinalized messages alike: the expiry (a
    # re-attested message carries expirationBlock 0) and the fee (a re-attested Fast message still pays it)
    if body.expiration_block and body.expiration_block <= ledger.block_number():
        raise Revert("Message expired and must be re-signed")
    fee = body.fee_executed
    if fee and fee >= body.amount:
        raise Revert("Fee equals or exceeds amount")
    if fee > body.max_fee:
        raise Revert("Fee exceeds max fee")
    token = TOKEN_PAIRS.get((message.source_domain, body.burn_token))
    if token is None:
        raise Revert("Mint token not supported")
    try:
        recipient = bytes32_to_evm(body.mint_recipient).lower()
    except ValueError:
        raise Revert("Invalid mint recipient") from None
    logs = [_log(USDC, [TRANSFER_TOPIC, _topic(_ZERO_ADDRESS), _topic(recipient)],
                 abi_encode(["uint256"], [body.amount - fee]), "")]
    if fee:
        logs.append(_log(USDC, [TRANSFER_TOPIC, _topic(_ZERO_ADDRESS), _topic(FEE_RECIPIENT)],
                         abi_encode(["uint256"], [fee]), ""))
    logs.append(_log(MESSAGE_TRANSMITTER, [MESSAGE_RECEIVED_TOPIC, _topic(sender), "0x" + message.nonce.hex(),
                                           "0x" + message.finality_threshold_executed.to_bytes(32, "big").hex()],
                     abi_encode(["uint32", "bytes32", "bytes"], [message.source_domain, message.sender, message.body]),
                     ""))
    if not dry:
        ledger.used_nonces[message.nonce] = 1
        ledger.usdc[recipient] = ledger.usdc.get(recipient, 0) + body.amount - fee
        if fee:
            ledger.usdc[FEE_RECIPIENT] = ledger.usdc.get(FEE_RECIPIENT, 0) + fee
    return abi_encode(["bool"], [True]), logs
