"""Withdrawals in the state table (USER#<id> / WITHDRAWAL#<id>: readable by the trading step that pays them) and
the withdraw workflow's starter (Step Functions, one execution per withdrawal)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from dnbot.adapters.aws.paging import query_all
from dnbot.domain.withdrawals import Withdrawal, WithdrawalStatus


def _item(w: Withdrawal) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": f"USER#{w.user_id}", "sk": f"WITHDRAWAL#{w.withdrawal_id}", "type": "withdrawal",
        "withdrawal_id": w.withdrawal_id, "user_id": w.user_id, "asset": w.asset, "amount": w.amount, "to": w.to,
        "status": w.status, "created_at": w.created_at.astimezone(UTC).isoformat(),
        "updated_at": w.updated_at.astimezone(UTC).isoformat(), "signature": w.signature,
        "signed_transaction": w.signed_transaction, "error": w.error, "source": w.source}
    return {k: v for k, v in item.items() if v is not None}


def _withdrawal(item: dict[str, Any]) -> Withdrawal:
    return Withdrawal(withdrawal_id=item["withdrawal_id"], user_id=item["user_id"], asset=item["asset"],
                      amount=Decimal(str(item["amount"])), to=item["to"], status=item["status"],
                      created_at=datetime.fromisoformat(item["created_at"]),
                      updated_at=datetime.fromisoformat(item["updated_at"]), signature=item.get("signature"),
                      signed_transaction=item.get("signed_transaction"), error=item.get("error"),
                      source=item.get("source", "solana"))


class DynamoWithdrawalStore:
    """Implements WithdrawalStore."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def create_withdrawal(self, withdrawal: Withdrawal) -> None:
        self._table.put_item(Item=_item(withdrawal), ConditionExpression=Attr("pk").not_exists())

    def get_withdrawal(self, user_id: str, withdrawal_id: str) -> Withdrawal | None:
        item = self._table.get_item(Key={"pk": f"USER#{user_id}", "sk": f"WITHDRAWAL#{withdrawal_id}"},
                                    ConsistentRead=True).get("Item")
        return None if item is None else _withdrawal(item)

    def move_withdrawal(self, withdrawal: Withdrawal, expected: WithdrawalStatus) -> bool:
        try:
            self._table.put_item(Item=_item(withdrawal), ConditionExpression=Attr("status").eq(expected))
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def list_withdrawals(self, user_id: str) -> list[Withdrawal]:
        """Every withdrawal of the user, newest first (every page: one Query answers at most 1 MB)."""
        condition = Key("pk").eq(f"USER#{user_id}") & Key("sk").begins_with("WITHDRAWAL#")
        return sorted((_withdrawal(i) for i in query_all(self._table, KeyConditionExpression=condition)),
                      key=lambda w: w.created_at, reverse=True)


class StepFunctionsWithdrawals:
    """Implements WithdrawalStarter: execution `withdraw-<id>`, so a second start is the same execution."""

    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._client = client
        self._arn = state_machine_arn

    def start_withdrawal(self, withdrawal: Withdrawal) -> None:
        try:
            self._client.start_execution(
                stateMachineArn=self._arn, name=f"withdraw-{withdrawal.withdrawal_id}",
                input=json.dumps({"user_id": withdrawal.user_id, "withdrawal_id": withdrawal.withdrawal_id}))
        except ClientError as error:
            if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise


class TerminalCodeSender:
    """`dnbot local`: the withdrawal code is printed in the terminal, like the login code."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say

    def send_withdrawal_code(self, email: str, code: str, withdrawal: Withdrawal) -> None:
        self._say(f"dnbot local: withdrawal of {withdrawal.amount} {withdrawal.asset} to {withdrawal.to} requested")
        self._say(f"dnbot local: withdrawal code for {email}: {code}")


class SesCodeSender:
    """AWS: the withdrawal code by email through Amazon SES (v2 SendEmail) from the operator's verified sender.
    Privy runs login codes in the browser but has no API to email an arbitrary message, hence SES here."""

    def __init__(self, client: Any, sender: str) -> None:
        self._client = client  # a boto3 "sesv2" client
        self._sender = sender

    def send_withdrawal_code(self, email: str, code: str, withdrawal: Withdrawal) -> None:
        text = (f"Your dnbot withdrawal code is {code}.\n\nIt confirms sending {withdrawal.amount} {withdrawal.asset} "
                f"to {withdrawal.to}, and nothing else. It expires in 10 minutes.\n\n"
                "If you did not ask for this withdrawal, do not use the code: log out everywhere and tell the "
                "operator.")
        self._client.send_email(
            FromEmailAddress=self._sender, Destination={"ToAddresses": [email]},
            Content={"Simple": {"Subject": {"Data": f"dnbot withdrawal code {code}"},
                                "Body": {"Text": {"Data": text}}}})
