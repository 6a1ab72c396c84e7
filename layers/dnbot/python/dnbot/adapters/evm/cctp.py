"""Circle CCTP V2 on Arbitrum One (docs/bridge.md sections 2 and 3): burn the user's USDC towards Solana
(USDC `approve` of TokenMessengerV2, then `depositForBurn`) and mint what Solana burned (MessageTransmitterV2
`receiveMessage`), over the JSON-RPC client of `arbitrum.py`, signed through the EvmTransactionSigner port (whose
validator, dnbot.security.evm_validator, refuses any other call).

Calldata is eth-abi; the selectors are keccak256 of the signatures of circlefin/evm-cctp-contracts
`src/v2/TokenMessengerV2.sol` and `MessageTransmitterV2.sol` (pinned in tests/contract/evm/test_cctp.py).
"""

from __future__ import annotations

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from dnbot.adapters.evm.arbitrum import ArbitrumClient, transaction_hash
from dnbot.cctp import (
    ARBITRUM_MESSAGE_TRANSMITTER_V2,
    ARBITRUM_TOKEN_MESSENGER_V2,
    ARBITRUM_USDC,
    SOLANA_DOMAIN,
)
from dnbot.cctp.message import EMPTY_BYTES32, solana_to_bytes32
from dnbot.ports import EvmTransactionSigner, MessageExpired, SignedEvmBurn, SignedEvmTx, VenueRejected
from dnbot.security.evm_validator import APPROVE, BURN_ARGS, DEPOSIT_FOR_BURN, RECEIVE_MESSAGE

ALLOWANCE = keccak(text="allowance(address,address)")[:4]
BALANCE_OF = keccak(text="balanceOf(address)")[:4]
USED_NONCES = keccak(text="usedNonces(bytes32)")[:4]
MESSAGE_SENT_TOPIC = "0x" + keccak(text="MessageSent(bytes)").hex().removeprefix("0x")
# The gas limit of a depositForBurn signed together with the approve it needs: the node cannot estimate a burn
# whose allowance is not granted yet (it would revert). Arbitrum's gas units include the L1 data cost, so this is
# a generous ceiling (gas used is what is paid); the burn's actual gas on mainnet is **unverified**.
BURN_GAS_LIMIT_UNESTIMATED = 1_000_000
# TokenMessengerV2's revert of a Fast (unfinalized) message past its expirationBlock [E1]: Iris must re-attest it.
MESSAGE_EXPIRED_REASON = "message expired and must be re-signed"


class NonceAlreadyUsed(VenueRejected):
    """receiveMessage would revert "Nonce already used": that message is minted already (by anyone)."""


def approve_calldata(spender: str, amount_raw: int) -> bytes:
    return APPROVE + abi_encode(["address", "uint256"], [to_checksum_address(spender), amount_raw])


def deposit_for_burn_calldata(amount_raw: int, mint_recipient: bytes, max_fee_raw: int, min_finality: int, *,
                              destination_domain: int = SOLANA_DOMAIN, burn_token: str = ARBITRUM_USDC,
                              destination_caller: bytes = EMPTY_BYTES32) -> bytes:
    return DEPOSIT_FOR_BURN + abi_encode(
        BURN_ARGS,
        [amount_raw, destination_domain, mint_recipient, to_checksum_address(burn_token), destination_caller,
         max_fee_raw, min_finality])


def receive_message_calldata(message: bytes, attestation: bytes) -> bytes:
    return RECEIVE_MESSAGE + abi_encode(["bytes", "bytes"], [message, attestation])


class ArbitrumCctp:
    """Implements ArbitrumCctpPort."""

    def __init__(self, client: ArbitrumClient, signer: EvmTransactionSigner) -> None:
        self._client = client
        self._signer = signer

    # --- reads ----------------------------------------------------------------------------------------------

    def allowance(self, owner: str) -> int:
        data = ALLOWANCE + abi_encode(["address", "address"], [to_checksum_address(owner),
                                                               to_checksum_address(ARBITRUM_TOKEN_MESSENGER_V2)])
        (raw,) = abi_decode(["uint256"], self._client.eth_call(ARBITRUM_USDC, data))
        return int(raw)

    def usdc_raw(self, owner: str) -> int:
        data = BALANCE_OF + abi_encode(["address"], [to_checksum_address(owner)])
        (raw,) = abi_decode(["uint256"], self._client.eth_call(ARBITRUM_USDC, data))
        return int(raw)

    def nonce_used(self, nonce: bytes) -> bool:
        if len(nonce) != 32:
            raise ValueError("a CCTP V2 nonce is 32 bytes")
        (used,) = abi_decode(["uint256"], self._client.eth_call(ARBITRUM_MESSAGE_TRANSMITTER_V2, USED_NONCES + nonce))
        return int(used) != 0

    def nonce_consumed(self, owner: str, nonce: int) -> bool:
        """The account's mined transaction count is past `nonce`: a transaction signed with it that never landed
        never will."""
        return self._client.transaction_count(owner) > nonce

    def receipt_status(self, tx_hash: str) -> str:
        status = self._client.receipt_status(tx_hash)
        return "unknown" if status is None else "landed" if status else "failed"

    def burn_message(self, tx_hash: str) -> bytes | None:
        """The message a landed burn emitted (MessageTransmitterV2 `MessageSent(bytes)`; its nonce is empty:
        mint with the attestation service's copy, never this one). None while not mined or without the event."""
        receipt = self._client.receipt(tx_hash)
        for log in (receipt or {}).get("logs", []):
            if (str(log.get("address", "")).lower() == ARBITRUM_MESSAGE_TRANSMITTER_V2.lower()
                    and log.get("topics") and str(log["topics"][0]).lower() == MESSAGE_SENT_TOPIC):
                (message,) = abi_decode(["bytes"], bytes.fromhex(str(log["data"]).removeprefix("0x")))
                return bytes(message)
        return None

    # --- writes ---------------------------------------------------------------------------------------------

    def sign_burn(self, user_id: str, owner: str, amount_raw: int, solana_recipient_ata: str, max_fee_raw: int,
                  min_finality: int, *, nonce: int | None = None) -> SignedEvmBurn:
        """Sign (not send) the approve of exactly `amount_raw` (skipped when the allowance covers it) and the
        depositForBurn to Solana minting to `solana_recipient_ata`, at `nonce` and the next (default: the
        wallet's next nonce)."""
        if amount_raw <= 0:
            raise ValueError(f"a burn amount must be positive, got {amount_raw}")
        if not 0 <= max_fee_raw < amount_raw:
            raise ValueError(f"max fee {max_fee_raw} must be >= 0 and under the amount {amount_raw} (CCTP requires it)")
        mint_recipient = solana_to_bytes32(solana_recipient_ata)
        balance = self.usdc_raw(owner)
        if balance < amount_raw:
            raise VenueRejected(f"the wallet holds {balance} raw USDC on Arbitrum, less than the {amount_raw} to burn")
        burn_data = deposit_for_burn_calldata(amount_raw, mint_recipient, max_fee_raw, min_finality)
        approve: SignedEvmTx | None = None
        if self.allowance(owner) < amount_raw:
            approve = self._client.sign_call(user_id, owner, ARBITRUM_USDC,
                                             approve_calldata(ARBITRUM_TOKEN_MESSENGER_V2, amount_raw),
                                             self._signer, nonce=nonce)
            burn = self._client.sign_call(user_id, owner, ARBITRUM_TOKEN_MESSENGER_V2, burn_data, self._signer,
                                          nonce=approve.nonce + 1, gas=BURN_GAS_LIMIT_UNESTIMATED)
        else:
            burn = self._client.sign_call(user_id, owner, ARBITRUM_TOKEN_MESSENGER_V2, burn_data, self._signer,
                                          nonce=nonce)
        return SignedEvmBurn(burn_raw=burn.raw, burn_hash=burn.tx_hash, burn_nonce=burn.nonce,
                             approve_raw=approve.raw if approve else None,
                             approve_hash=approve.tx_hash if approve else None,
                             approve_nonce=approve.nonce if approve else None)

    def decode_burn(self, encoded: str) -> SignedEvmBurn:
        return SignedEvmBurn.decode(encoded)

    def sign_receive(self, user_id: str, owner: str, message: bytes, attestation: bytes, *,
                     nonce: int | None = None) -> SignedEvmTx:
        """Sign (not send) receiveMessage(message, attestation) from the user's wallet. The node's gas estimate
        runs the call: a message minted already raises NonceAlreadyUsed, a Fast message past its expirationBlock
        MessageExpired, a bad attestation VenueRejected."""
        try:
            return self._client.sign_call(user_id, owner, ARBITRUM_MESSAGE_TRANSMITTER_V2,
                                          receive_message_calldata(message, attestation), self._signer, nonce=nonce)
        except VenueRejected as refused:
            reason = str(refused).lower()
            if "nonce already used" in reason:
                raise NonceAlreadyUsed(str(refused)) from refused
            if MESSAGE_EXPIRED_REASON in reason:
                raise MessageExpired(str(refused)) from refused
            raise

    def send(self, raw: str) -> str:
        """Send signed bytes; returns their hash. Sending them again is fine: the node already knows them, or
        they are mined (their nonce is then "too low", and the node has their receipt)."""
        tx_hash = transaction_hash(raw)
        try:
            return self._client.send_raw(tx_hash, raw)
        except VenueRejected as refused:
            if "nonce too low" in str(refused).lower() and self._client.receipt(tx_hash) is not None:
                return tx_hash
            raise
