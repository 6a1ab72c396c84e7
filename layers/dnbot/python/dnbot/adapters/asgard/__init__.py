"""Asgard margin trading: the HTTP client (errors mapped to the ports'), the markets reader, and (in
`dnbot.adapters.asgard.venue`, which loads solders) the LongVenue built on them."""

from dnbot.adapters.asgard.client import AsgardApiError, AsgardClient, RateLimiter
from dnbot.adapters.asgard.markets import AsgardMarkets, markets_from_snapshots, parse_markets
from dnbot.adapters.asgard.references import InMemoryLongReferences, LongReference, LongReferenceStore

__all__ = ["AsgardApiError", "AsgardClient", "AsgardMarkets", "InMemoryLongReferences", "LongReference",
           "LongReferenceStore", "RateLimiter", "markets_from_snapshots", "parse_markets"]
