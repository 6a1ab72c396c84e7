"""An in-process AWS (moto in server mode) holding the resources the CDK stack creates, from resources.py."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from dnbot import resources
from dnbot.local.functions import LocalFunctions
from dnbot.local.stepfunctions_lambda import restore, route_lambda_to
from dnbot.workflows.definitions import render

LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


@dataclass
class LocalCloud:
    """Start with `start()`; `endpoint_url` and the created resources' ids are then set."""

    functions: LocalFunctions
    host: str = "127.0.0.1"
    port: int = 0
    endpoint_url: str = ""
    state_machine_arns: dict[str, str] = field(default_factory=dict)
    envelope_key_id: str = ""
    privy_authorization_key_id: str = ""
    queue_urls: dict[str, str] = field(default_factory=dict)  # QueueSpec.logical_id -> URL
    _server: ThreadedMotoServer | None = None

    def start(self) -> LocalCloud:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is noise here
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        moto_api_backend.reset()  # moto's backends are process-wide: start from an empty account
        make_item_writes_atomic()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        # Execute the real ASL (Retry/Catch included) with Task states calling our in-process handlers.
        moto_api_backend.set_config({"stepfunctions": {"execute_state_machine": True}})
        route_lambda_to(self.functions)
        self._create_resources()
        return self

    def stop(self) -> None:
        restore()
        if self._server is not None:
            self._server.stop()
            self._server = None
            moto_api_backend.reset()

    def session(self) -> boto3.Session:
        return boto3.Session(region_name=LOCAL_REGION, aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
                             aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"])

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def _create_resources(self) -> None:
        create_state_table(self.client("dynamodb"))
        create_state_table(self.client("dynamodb"), resources.SESSIONS_TABLE)
        self._create_keys()
        ssm = self.client("ssm")
        ssm.put_parameter(Name=resources.KILL_SWITCH_PARAMETER, Value=resources.KILL_SWITCH_DEFAULT.value,
                          Type="String", Overwrite=True)
        self._create_queues()
        sfn = self.client("stepfunctions")
        for machine in resources.STATE_MACHINES:
            substitutions = {placeholder: self.functions.arn(function)
                             for placeholder, function in machine.substitutions.items()}
            created = sfn.create_state_machine(
                name=machine.local_name, definition=render(machine.name, substitutions), type="STANDARD",
                roleArn=f"arn:aws:iam::{LOCAL_ACCOUNT}:role/dnbot-local-states")
            self.state_machine_arns[machine.name] = created["stateMachineArn"]

    def _create_queues(self) -> None:
        sqs = self.client("sqs")
        for spec in resources.QUEUES:
            dlq_url = sqs.create_queue(QueueName=f"{spec.local_name}-dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(spec.max_receives)})
            self.queue_urls[spec.logical_id] = sqs.create_queue(QueueName=spec.local_name, Attributes={
                "VisibilityTimeout": str(spec.visibility_timeout_seconds), "RedrivePolicy": redrive})["QueueUrl"]
            self.queue_urls[f"{spec.logical_id}Dlq"] = dlq_url

    def _create_keys(self) -> None:
        kms = self.client("kms")
        envelope = kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT",
                                  Description="dnbot envelope encryption (local)")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=resources.ENVELOPE_KEY_ALIAS, TargetKeyId=envelope)
        signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY",
                                Description="dnbot Privy authorization key (local)")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=resources.PRIVY_AUTHORIZATION_KEY_ALIAS, TargetKeyId=signer)
        self.envelope_key_id, self.privy_authorization_key_id = envelope, signer


_ITEM_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_item_write_lock = threading.RLock()


def make_item_writes_atomic() -> None:
    """DynamoDB applies each write (its condition included) atomically; moto checks the condition and then writes,
    so two threads can both pass `count < limit`. Serialize moto's item writes, once per process, so the embedded
    AWS keeps DynamoDB's guarantee (the atomic counters and single-use codes rely on it)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in _ITEM_WRITES:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_dnbot_atomic", False):
            continue

        def atomic(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _item_write_lock:
                return __original(self, *args, **kwargs)

        atomic._dnbot_atomic = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, atomic)


def create_state_table(dynamodb: Any, spec: resources.TableSpec = resources.STATE_TABLE) -> None:
    """A table as its resources.TableSpec describes it (what the CDK stack deploys): the state table by default."""
    keys = {spec.partition_key, spec.sort_key}
    for index in spec.indexes:
        keys |= {index.partition_key, index.sort_key}
    dynamodb.create_table(
        TableName=spec.local_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in sorted(keys)],
        KeySchema=[{"AttributeName": spec.partition_key, "KeyType": "HASH"},
                   {"AttributeName": spec.sort_key, "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{
            "IndexName": index.name,
            "KeySchema": [{"AttributeName": index.partition_key, "KeyType": "HASH"},
                          {"AttributeName": index.sort_key, "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}} for index in spec.indexes],
        StreamSpecification=({"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"} if spec.stream
                             else {"StreamEnabled": False}),
    )
    dynamodb.update_time_to_live(
        TableName=spec.local_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute})
