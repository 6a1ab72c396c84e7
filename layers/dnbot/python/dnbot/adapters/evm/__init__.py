"""EVM / Arbitrum One: USDC balances and the Hyperliquid bridge deposit."""
