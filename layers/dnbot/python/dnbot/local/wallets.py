"""Local wallets: real Solana and EVM addresses derived from a per-machine secret (no custody service locally).

In the cloud Privy creates and holds the users' wallets; locally the same port gives each user stable
addresses, derived with HMAC-SHA256 from a secret kept in the state directory, so they survive restarts.
"""

from __future__ import annotations

import hashlib
import hmac

from eth_account import Account
from solders.keypair import Keypair

from dnbot.ports import UserWallets


class DerivedLocalWallets:
    """Implements WalletProvisioner for `dnbot local`."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the local wallet secret must be at least 32 bytes")
        self._secret = secret

    def _seed(self, purpose: str, user_id: str) -> bytes:
        return hmac.new(self._secret, f"{purpose}:{user_id}".encode(), hashlib.sha256).digest()

    def solana_keypair(self, user_id: str) -> Keypair:
        return Keypair.from_seed(self._seed("solana", user_id))

    def evm_private_key(self, user_id: str) -> bytes:
        return self._seed("evm", user_id)

    def wallets_for(self, user_id: str) -> UserWallets:
        return UserWallets(solana_address=str(self.solana_keypair(user_id).pubkey()),
                           evm_address=Account.from_key(self.evm_private_key(user_id)).address)
