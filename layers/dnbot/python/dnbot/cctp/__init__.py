"""Circle CCTP V2 between Solana and Arbitrum: ids and addresses (cited in docs/bridge.md section 1)."""

from __future__ import annotations

# The CCTP domain ids are defined once, in the (pure) domain that plans transfers between them.
from dnbot.domain.bridge import ARBITRUM_DOMAIN as ARBITRUM_DOMAIN
from dnbot.domain.bridge import SOLANA_DOMAIN as SOLANA_DOMAIN

ARBITRUM_TOKEN_MESSENGER_V2 = "0x28b5a0e9C621a5BadaA536219b3a228C8168cf5d"
ARBITRUM_MESSAGE_TRANSMITTER_V2 = "0x81D40F21F12A8F0E3252Bccb954D722d4c464B64"
ARBITRUM_USDC = "0xaf88d065e77c8cC2239327C5EDb3A432268e5831"

SOLANA_MESSAGE_TRANSMITTER_V2 = "CCTPV2Sm4AdWt5296sk4P66VBZ7bEhcARwFaaS9YPbeC"
SOLANA_TOKEN_MESSENGER_MINTER_V2 = "CCTPV2vPZJS2u2BBsUoscuikbYjnpFmbFsvVuJdgUMQe"
SOLANA_USDC_MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"

IRIS_MAINNET_URL = "https://iris-api.circle.com"
