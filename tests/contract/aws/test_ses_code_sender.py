"""The withdrawal code by email through SES (moto): from the configured sender, to the user, with the code and
what it confirms."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import boto3
from moto import mock_aws
from moto.backends import get_backend

from dnbot.adapters.aws.withdrawals import SesCodeSender
from dnbot.domain.withdrawals import Withdrawal

T0 = datetime(2026, 12, 1, tzinfo=UTC)


@mock_aws
def test_the_code_goes_to_the_user_from_the_verified_sender() -> None:
    ses = boto3.client("ses", region_name="us-east-1")
    ses.verify_email_identity(EmailAddress="withdrawals@example.com")
    withdrawal = Withdrawal("w1", "u1", "USDC", Decimal("25.5"), "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin",
                            "confirm_by_email", T0, T0)
    SesCodeSender(boto3.client("sesv2", region_name="us-east-1"), "withdrawals@example.com").send_withdrawal_code(
        "alice@example.com", "123456", withdrawal)
    (sent,) = get_backend("ses")["123456789012"]["us-east-1"].sent_messages
    assert sent.source == "withdrawals@example.com" and sent.destinations["ToAddresses"] == ["alice@example.com"]
    assert "123456" in sent.body and "25.5 USDC" in sent.body and withdrawal.to in sent.body
