"""GET /deposit-plan: for a capital (and optionally a preset and leverage), what to send to each address."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from dnbot.api.deps import RuntimeDep, UserDep
from dnbot.domain.deposit_plan import MIN_BRIDGE_DEPOSIT_USDC, DepositPlan, Need

router = APIRouter(tags=["account"])

NOT_MOVED = ("dnbot does not move USDC between Solana and Hyperliquid for you: send each share to its address. "
             "USDC sent to the Arbitrum address reaches Hyperliquid by itself within a few minutes.")


class NeedOut(BaseModel):
    need: Decimal
    have: Decimal | None  # None: that venue could not be read just now
    on_the_way: Decimal
    missing: Decimal | None

    @classmethod
    def build(cls, need: Need) -> NeedOut:
        return cls(need=need.need, have=need.have, on_the_way=need.on_the_way, missing=need.missing)


class SolanaPlanOut(BaseModel):
    address: str | None
    usdc: NeedOut  # the Asgard long's collateral
    sol: NeedOut  # transaction fees


class ArbitrumPlanOut(BaseModel):
    address: str | None
    send_usdc: Decimal | None  # what to send here now (never under the bridge minimum); None: unknown
    minimum_usdc: Decimal  # the bridge credits nothing smaller: smaller amounts wait on the address
    eth: NeedOut  # gas for the transfer to Hyperliquid, paid by this wallet


class DepositPlanOut(BaseModel):
    capital_usd: Decimal
    leverage: Decimal
    margin_buffer: Decimal
    notional_usd: Decimal
    solana: SolanaPlanOut
    arbitrum: ArbitrumPlanOut
    hyperliquid: NeedOut  # the short's margin (USDC on Arbitrum counts as on its way)
    complete: bool
    out_of_proportion: bool  # one venue holds its share and the other not: the next open would be refused
    note: str

    @classmethod
    def build(cls, plan: DepositPlan, solana_address: str | None, evm_address: str | None) -> DepositPlanOut:
        return cls(
            capital_usd=plan.capital_usd, leverage=plan.leverage, margin_buffer=plan.margin_buffer,
            notional_usd=plan.notional_usd,
            solana=SolanaPlanOut(address=solana_address, usdc=NeedOut.build(plan.solana_usdc),
                                 sol=NeedOut.build(plan.solana_sol)),
            arbitrum=ArbitrumPlanOut(address=evm_address, send_usdc=plan.send_to_arbitrum_usdc,
                                     minimum_usdc=MIN_BRIDGE_DEPOSIT_USDC,
                                     eth=NeedOut.build(plan.arbitrum_eth_if_needed)),
            hyperliquid=NeedOut.build(plan.hyperliquid_usdc),
            complete=plan.complete, out_of_proportion=plan.out_of_proportion, note=NOT_MOVED,
        )


@router.get("/deposit-plan")
def deposit_plan(runtime: RuntimeDep, current: UserDep,
                 capital_usd: Decimal = Query(gt=0, le=10_000_000, max_digits=12, decimal_places=2),
                 preset: Literal["conservative", "balanced", "aggressive"] | None = Query(None),
                 leverage: Decimal | None = Query(None, ge=2, le=4, max_digits=4, decimal_places=2)) -> DepositPlanOut:
    plan = runtime.deposit_planner.plan(current.user, capital_usd, preset, leverage)
    return DepositPlanOut.build(plan, current.user.solana_address, current.user.evm_address)
