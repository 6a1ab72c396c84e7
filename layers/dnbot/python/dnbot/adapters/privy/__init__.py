"""Privy: wallets through the official SDK (privy-client) and the authorization signatures they need."""
