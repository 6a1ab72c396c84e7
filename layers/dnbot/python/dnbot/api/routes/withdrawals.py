from __future__ import annotations

from fastapi import APIRouter, Request

from dnbot.api.deps import IdPath, RuntimeDep, UserDep
from dnbot.api.edge import client_address
from dnbot.api.schemas import (
    FreeToWithdrawResponse,
    WithdrawalConfirm,
    WithdrawalOut,
    WithdrawalRequest,
    WithdrawalsResponse,
)

router = APIRouter(prefix="/withdrawals", tags=["withdrawals"])


@router.post("", status_code=202)
def request_withdrawal(body: WithdrawalRequest, request: Request, runtime: RuntimeDep,
                       current: UserDep) -> WithdrawalOut:
    return WithdrawalOut.build(runtime.withdrawals.request(current.user, body.asset, body.amount, body.to,
                                                           source=body.source, client=client_address(request)))


@router.post("/{withdrawal_id}/confirm", status_code=202)
def confirm_withdrawal(withdrawal_id: IdPath, body: WithdrawalConfirm, request: Request, runtime: RuntimeDep,
                       current: UserDep) -> WithdrawalOut:
    return WithdrawalOut.build(runtime.withdrawals.confirm(current.user, withdrawal_id, body.code,
                                                           client=client_address(request)))


@router.get("")
def list_withdrawals(runtime: RuntimeDep, current: UserDep) -> WithdrawalsResponse:
    return WithdrawalsResponse(withdrawals=[WithdrawalOut.build(w)
                                            for w in runtime.withdrawals.of_user(current.user.user_id)])


@router.get("/free")  # before /{withdrawal_id}: "free" is not an id
def free_to_withdraw(runtime: RuntimeDep, current: UserDep) -> FreeToWithdrawResponse:
    return FreeToWithdrawResponse.build(runtime.withdrawals.free_funds(current.user))


@router.get("/{withdrawal_id}")
def get_withdrawal(withdrawal_id: IdPath, runtime: RuntimeDep, current: UserDep) -> WithdrawalOut:
    return WithdrawalOut.build(runtime.withdrawals.get(current.user.user_id, withdrawal_id))
