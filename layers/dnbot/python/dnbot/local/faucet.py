"""Demo money for `dnbot local`: each new user's wallets are funded once in the simulator.

On the real venues a user deposits (the dashboard shows the addresses and QR codes); locally nobody can, so
the first time a user's wallets are created the simulator credits them the way a real user's money arrives:
USDC and SOL on the Solana wallet (the long's collateral and fees), USDC and a little ETH for gas on the Arbitrum
address. Hyperliquid is funded by the deposit sweep (services/deposits.py), the same code as in AWS: it runs at
once for the new user (`on_funded`) and then on the local scheduler every minute, like any later deposit.
Nothing here exists outside `dnbot local`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from decimal import Decimal

import httpx

from dnbot.ports import UserWallets, WalletProvisioner

logger = logging.getLogger(__name__)

DEMO_SOLANA_USDC = Decimal(5_000)  # the long's collateral
DEMO_SOL = Decimal(1)  # transaction fees and Jito tips
DEMO_ARBITRUM_USDC = Decimal(5_000)  # the short's margin: the sweep bridges it to Hyperliquid
DEMO_ARBITRUM_ETH = Decimal("0.01")  # gas for the bridge transfers (the user's wallet pays it)


class FundedLocalWallets:
    """Implements WalletProvisioner: the real (Privy) wallets, plus a one-time simulated deposit."""

    def __init__(self, inner: WalletProvisioner, sim_base_url: str,
                 on_funded: Callable[[str, str], object] | None = None) -> None:
        self._inner = inner
        self._sim = sim_base_url
        self._on_funded = on_funded  # (user id, EVM address): the deposit sweep, for this user now
        self._funded: set[str] = set()
        self._lock = threading.Lock()

    def wallets_for(self, user_id: str) -> UserWallets:
        wallets = self._inner.wallets_for(user_id)
        with self._lock:
            if user_id in self._funded:
                return wallets
            self._funded.add(user_id)
        self._fund(wallets)
        if self._on_funded is not None:
            try:
                self._on_funded(user_id, wallets.evm_address)
            except Exception:  # the scheduled sweep tries again within a minute
                logger.exception("the first deposit sweep for %s failed", user_id)
        return wallets

    def _fund(self, wallets: UserWallets) -> None:
        deposits = (
            ("/sim/solana/fund", {"address": wallets.solana_address, "sol": str(DEMO_SOL),
                                  "usdc": str(DEMO_SOLANA_USDC)}),
            ("/sim/arbitrum/fund", {"address": wallets.evm_address, "usdc": str(DEMO_ARBITRUM_USDC),
                                    "eth": str(DEMO_ARBITRUM_ETH)}),
        )
        with httpx.Client(base_url=self._sim, timeout=10) as sim:
            for path, body in deposits:
                reply = sim.post(path, json=body)
                if reply.status_code >= 400:
                    logger.warning("demo deposit %s failed: %s", path, reply.text)
