"""Solana: balances and transaction status over JSON-RPC, and a local-keypair transaction signer."""
