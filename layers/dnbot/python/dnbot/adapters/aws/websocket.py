"""Pushing messages to API Gateway WebSocket connections (the management API)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError


class ApiGatewayPusher:
    """Implements ConnectionPusher."""

    def __init__(self, management_client: Any) -> None:
        self._client = management_client  # boto3 "apigatewaymanagementapi" with the stage's endpoint_url

    def push(self, connection_id: str, message: dict[str, Any]) -> bool:
        try:
            self._client.post_to_connection(ConnectionId=connection_id,
                                            Data=json.dumps(message, default=str).encode())
        except ClientError as error:
            if error.response["Error"]["Code"] == "GoneException":
                return False
            raise
        return True
