"""A withdrawal, as the use case (dnbot.services.withdrawals) and its stores (dnbot.adapters.aws.withdrawals)
both know it. Pure data: no I/O, so an adapter can store it without importing a service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

WithdrawalAsset = Literal["USDC", "SOL"]
WithdrawalSource = Literal["solana", "hyperliquid"]  # the user's Solana wallet, or their Hyperliquid account
WithdrawalStatus = Literal["confirm_by_email", "approved", "sending", "sent", "failed", "expired"]


@dataclass(frozen=True, slots=True)
class Withdrawal:
    withdrawal_id: str
    user_id: str
    asset: WithdrawalAsset
    amount: Decimal
    to: str
    status: WithdrawalStatus
    created_at: datetime
    updated_at: datetime
    signature: str | None = None
    signed_transaction: str | None = None  # stored before sending: a retry resends it, never a new payment
    error: str | None = None
    source: WithdrawalSource = "solana"
