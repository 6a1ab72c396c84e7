"""The pure domain: money, rates, opportunity, sizing, risk, fills, positions, PnL. No I/O, no SDKs."""
