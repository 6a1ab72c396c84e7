"""AWS adapters: DynamoDB state, SSM kill switch, Step Functions, KMS, WebSocket."""
