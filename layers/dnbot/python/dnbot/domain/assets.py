"""What the bot can hold and where: the long's assets and Asgard's lending protocols."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum


@dataclass(frozen=True, slots=True)
class TokenInfo:
    symbol: str
    mint: str
    decimals: int
    has_staking_yield: bool


class Asset(Enum):
    """The long leg's asset. Values are the symbols the API and CLI speak."""

    SOL = "SOL"
    JITOSOL = "jitoSOL"
    JUPSOL = "jupSOL"
    INF = "INF"

    @property
    def token(self) -> TokenInfo:
        return _TOKENS[self]

    @property
    def is_lst(self) -> bool:
        return self.token.has_staking_yield

    @classmethod
    def parse(cls, text: str) -> Asset:
        """Accepts any case: 'jitosol', 'JITOSOL' and 'jitoSOL' are the same asset."""
        for asset in cls:
            if asset.value.lower() == text.strip().lower():
                return asset
        raise ValueError(f"unknown asset {text!r}; expected one of {', '.join(a.value for a in cls)}")


_TOKENS: dict[Asset, TokenInfo] = {
    Asset.SOL: TokenInfo("SOL", "So11111111111111111111111111111111111111112", 9, False),
    Asset.JITOSOL: TokenInfo("jitoSOL", "J1toso1uCk3RLmjorhTtrVwY9HJ7X8V9yYac6Y7kGCPn", 9, True),
    Asset.JUPSOL: TokenInfo("jupSOL", "jupSoLaHXQiZZTSfEWMTRRgpnyFm8f6sZdosWBjx93v", 9, True),
    Asset.INF: TokenInfo("INF", "5oVNBeEEQvYi1cX3ir8Dx5n1P7pdxydbGF2X4TxVusJm", 9, True),
}

USDC = TokenInfo("USDC", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", 6, False)


class Protocol(IntEnum):
    """Asgard's lending protocols, with the integer codes Asgard's API uses."""

    MARGINFI = 0
    KAMINO = 1
    SOLEND = 2
    DRIFT = 3

    @property
    def label(self) -> str:
        """The lowercase name the API and CLI speak."""
        return self.name.lower()

    @property
    def rebalances_in_place(self) -> bool:
        """Asgard's position updates (deleverage, add-collateral, partial-close, repay-debt) exist on Kamino and
        Drift only: a marginfi or Solend long can only be closed, so a position there cannot be re-centred in
        place when it drifts toward liquidation."""
        return self in (Protocol.KAMINO, Protocol.DRIFT)

    @property
    def display_name(self) -> str:
        """The protocol's own spelling, for sentences a trader reads (marginfi writes itself in lower case)."""
        return {"MARGINFI": "marginfi", "KAMINO": "Kamino", "SOLEND": "Solend", "DRIFT": "Drift"}[self.name]

    @classmethod
    def parse(cls, text: str) -> Protocol:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(p.label for p in cls)
            raise ValueError(f"unknown protocol {text!r}; expected one of {names}") from None
