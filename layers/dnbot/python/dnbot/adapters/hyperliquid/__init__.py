"""Hyperliquid: the read side over its documented /info protocol (light: the poller and the tick use it), and
the trading side through the official SDK's signing and wire format (`dnbot.adapters.hyperliquid.trading`)."""

from dnbot.adapters.hyperliquid.info import HyperliquidInfo

__all__ = ["HyperliquidInfo"]
