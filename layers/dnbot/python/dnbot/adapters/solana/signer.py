"""A SolanaTransactionSigner holding keypairs locally (tests, `dnbot local`); production signs through Privy.

Like every signer of the project it runs the transaction validator first: a transaction the user's policy
refuses is never signed (dnbot.security.transaction_validator.TransactionRefusedError).
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from solders.keypair import Keypair
from solders.message import Message, to_bytes_versioned
from solders.transaction import Transaction, VersionedTransaction

from dnbot.security.transaction_validator import SigningPolicy, parse_transaction, validate_transaction


class LocalKeypairSigner:
    def __init__(self, keypairs: dict[str, Keypair],
                 policy_for: Callable[[str, str], SigningPolicy] | None = None) -> None:
        """`keypairs`: user id -> the user's wallet keypair; `policy_for(user_id, wallet)` -> the policy
        (default: SigningPolicy.for_wallet(wallet))."""
        self.keypairs = keypairs
        self.policy_for = policy_for or (lambda _user, wallet: SigningPolicy.for_wallet(wallet))

    def sign_transaction(self, user_id: str, tx_base64: str) -> str:
        keypair = self.keypairs.get(user_id)
        if keypair is None:
            raise KeyError(f"no Solana wallet for user {user_id}")
        tx = parse_transaction(tx_base64)
        validate_transaction(tx, self.policy_for(user_id, str(keypair.pubkey())))
        if isinstance(tx, VersionedTransaction):
            message = tx.message
            signers = list(message.account_keys[: message.header.num_required_signatures])
            signature = keypair.sign_message(to_bytes_versioned(message))
            # Keep any signature another party already placed; put ours in the wallet's slot.
            signatures = [signature if key == keypair.pubkey() else existing
                          for key, existing in zip(signers, tx.signatures, strict=True)]
            signed: VersionedTransaction | Transaction = VersionedTransaction.populate(message, signatures)
        else:
            assert isinstance(tx.message, Message)
            tx.partial_sign([keypair], tx.message.recent_blockhash)
            signed = tx
        return base64.b64encode(bytes(signed)).decode()
