"""Asgard margin trading: the HTTP client (errors mapped to the ports') and the LongVenue built on it."""

from dnbot.adapters.asgard.client import AsgardApiError, AsgardClient, RateLimiter
from dnbot.adapters.asgard.venue import (
    AsgardLongVenue,
    InMemoryLongReferences,
    LongHealth,
    LongReference,
    LongReferenceStore,
    markets_from_snapshots,
    parse_health,
    parse_markets,
    wallet_from_directory,
)

__all__ = ["AsgardApiError", "AsgardClient", "AsgardLongVenue", "InMemoryLongReferences", "LongHealth",
           "LongReference", "LongReferenceStore", "RateLimiter", "markets_from_snapshots", "parse_health",
           "parse_markets", "wallet_from_directory"]
