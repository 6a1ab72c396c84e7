"""Login: verification of identity-provider tokens (Privy access and identity tokens)."""
