"""dnbot: a delta-neutral funding-rate bot (leveraged SOL/LST long on Asgard, equal short SOL-PERP on Hyperliquid)."""

__version__ = "0.1.0"
