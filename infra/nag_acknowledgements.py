"""cdk-nag (AwsSolutions) findings the stack accepts, each with the reason it is acceptable here.

cdk-nag 3 reports through CDK's policy-validation framework, and an acknowledgement names one finding
(`RuleId` or `RuleId[finding]`) on one construct and its children. Everything not listed here fails synthesis.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import aws_cdk as cdk
from constructs import IConstruct

from dnbot import resources

if TYPE_CHECKING:
    from dnbot_stack import DnbotStack

XRAY_REASON = ("X-Ray's PutTraceSegments/PutTelemetryRecords support no resource-level permissions (tracing is "
               "on by design)")
STREAM_REASON = ("; dynamodb:ListStreams (the event source mapping's stream discovery) supports no resource-level "
                 "permissions either")


def _ack(construct: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def _token(stack: cdk.Stack, construct: IConstruct) -> str:
    """How cdk-nag spells a resource's logical id inside a finding, e.g. `<StateTable9728C7E5.Arn>`."""
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return stack.get_logical_id(child)


def _pseudo(stack: cdk.Stack) -> tuple[str, str, str]:
    """Partition, region and account as they appear in findings: literal when the stack's environment is known
    (the CDK CLI passes the profile's region), else cdk-nag's `<AWS::...>` placeholders."""

    def spell(value: str, name: str) -> str:
        return f"<AWS::{name}>" if cdk.Token.is_unresolved(value) else value

    return (spell(stack.partition, "Partition"), spell(stack.region, "Region"), spell(stack.account, "AccountId"))


def acknowledge(stack: DnbotStack) -> None:
    # the module that calls this one (imported, not a cycle at load)
    from dnbot_stack import FUNCTION_GRANTS, READ_BACK_EXECUTIONS

    partition, region, account = _pseudo(stack)
    table_index = f"AwsSolutions-IAM5[Resource::<{_token(stack, stack.table)}.Arn>/index/*]"
    runtime = (
        "Python 3.11 on purpose: the dependency layers are built from cp311 wheels (infra/build_layers.py) and the "
        "project's interpreter is 3.11; moving runtime means rebuilding both together"
    )

    for spec in resources.FUNCTIONS:
        fn = stack.functions[spec.name]
        role = fn.role
        assert role is not None
        _ack(fn, "AwsSolutions-L1", runtime)
        _ack(role, "AwsSolutions-IAM5[Resource::*]",
             XRAY_REASON + (STREAM_REASON if spec.name == stack.stream_consumer_name else ""))
        _ack(role, table_index,
             "Read/write on the state table includes its own GSIs (gsi1) for the queries by user and status; "
             "the wildcard is only over this table's indexes")
        if FUNCTION_GRANTS[spec.name].sessions:
            _ack(role, f"AwsSolutions-IAM5[Resource::<{_token(stack, stack.sessions_table)}.Arn>/index/*]",
                 "Read/write on the sessions table includes its own GSI (gsi1: a user's sessions, to log out "
                 "everywhere); the wildcard is only over this table's indexes")
        for machine_name in sorted(FUNCTION_GRANTS[spec.name].start_workflows & READ_BACK_EXECUTIONS):
            # CDK's grant_execution: arn:...:execution:<the machine's name, split out of its ARN>:*
            machine_name_token = json.dumps({"Fn::Select": [6, {"Fn::Split": [":", {
                "Ref": _token(stack, stack.state_machines[machine_name])}]}]}, separators=(",", ":"))
            _ack(role, f"AwsSolutions-IAM5[Resource::arn:{partition}:states:{region}:{account}:execution:"
                       f"{machine_name_token}:*]",
                 "states:DescribeExecution on this one state machine's executions, whose names are made at run "
                 "time (open-/close-/rebalance-<position id>): a start refused as already running reads that "
                 "execution back")

    broadcast_role = stack.functions["ws_broadcast"].role
    assert broadcast_role is not None
    _ack(broadcast_role,
         f"AwsSolutions-IAM5[Resource::arn:{partition}:execute-api:{region}:{account}:"
         f"<{_token(stack, stack.websocket_api)}>/{stack.websocket_stage.stage_name}/*/@connections/*]",
         "Connection ids are created at run time; the grant is limited to this API's stage and its @connections "
         "management path")

    for machine in stack.state_machines.values():
        _ack(machine, "AwsSolutions-IAM5[Resource::*]",
             "X-Ray tracing and CloudWatch Logs delivery (logs:CreateLogDelivery and friends) support no "
             "resource-level permissions")
        _ack(machine,
             f"AwsSolutions-IAM5[Resource::<{_token(stack, stack.functions['position_steps'])}.Arn>:*]",
             "lambda:InvokeFunction on position_steps and its versions/aliases (CDK's grant form); the only "
             "function the workflows invoke")

    _ack(stack.privy_secret, "AwsSolutions-SMG4",
         "Third-party credentials issued by Privy: they are rotated in Privy's dashboard and written here by the "
         "operator (docs/deploy.md); no rotation Lambda can mint them")

    authorization = (
        "Authorization is the application's own session (HTTP-only cookie issued after Privy login, plus a CSRF "
        "token on writes), checked by the FastAPI app per route; public routes (config, rates, login) must stay "
        "reachable, so an API Gateway authorizer would duplicate or block it"
    )
    for route in stack.http_api.node.find_all():
        if isinstance(route, cdk.CfnResource) and route.cfn_resource_type == "AWS::ApiGatewayV2::Route":
            _ack(route, "AwsSolutions-APIG4", authorization)
    for route in stack.websocket_api.node.find_all():
        if isinstance(route, cdk.CfnResource) and route.cfn_resource_type == "AWS::ApiGatewayV2::Route":
            _ack(route, "AwsSolutions-APIG4",
                 "The live channel is public by design (rates are public); ws_connections ties a connection to "
                 "a user only when the session cookie sent with the $connect upgrade is valid, so per-user "
                 "updates reach only authenticated connections; $disconnect carries no credentials by protocol")

    _ack(stack.dashboard_bucket, "AwsSolutions-S1",
         "The bucket holds only the dashboard's static build, readable solely through CloudFront (OAC); no user "
         "data is stored or served from it")
    _ack(stack.distribution, "AwsSolutions-CFR1",
         "The dashboard has no per-country licensing; venues enforce their own geographic restrictions")
    _ack(stack.distribution, "AwsSolutions-CFR2",
         "The web ACL is attached through a CloudFormation condition (CloudFront ACLs exist only in us-east-1) or "
         "the webAclArn context, which cdk-nag cannot see through; docs/security.md")
    _ack(stack.origin_secret, "AwsSolutions-SMG4",
         "The origin-verify value lives in CloudFront's origin configuration as well as here; it is rotated by a "
         "redeploy that regenerates both (docs/security.md), not by a Lambda rotation")
    _ack(stack.distribution, "AwsSolutions-CFR3",
         "API calls are logged by the API Gateway stage access logs and the Lambda logs; the static dashboard "
         "downloads carry nothing worth a log bucket")
    _ack(stack.distribution, "AwsSolutions-CFR4",
         "No custom domain: the default *.cloudfront.net certificate is used, for which CloudFront fixes the "
         "TLS policy itself; with a custom domain the distribution uses TLSv1.2_2021")

    # CDK's own singleton that copies frontend/dist into the bucket.
    for child in stack.node.children:
        if child.node.id.startswith("Custom::CDKBucketDeployment"):
            reason = ("CDK's BucketDeployment provider (copies frontend/dist into the dashboard bucket at deploy "
                      "time); its runtime, managed policy and S3 grants are chosen by aws-cdk-lib")
            for finding in (
                "AwsSolutions-L1",
                # The managed-policy ARN always carries the partition token, even when the region is known.
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                "AwsSolutions-IAM5[Resource::*]",
                "AwsSolutions-IAM5[Action::s3:GetObject*]",
                "AwsSolutions-IAM5[Action::s3:GetBucket*]",
                "AwsSolutions-IAM5[Action::s3:List*]",
                "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
                "AwsSolutions-IAM5[Action::s3:Abort*]",
                f"AwsSolutions-IAM5[Resource::arn:{partition}:s3:::cdk-hnb659fds-assets-{account}-{region}/*]",
                f"AwsSolutions-IAM5[Resource::<{_token(stack, stack.dashboard_bucket)}.Arn>/*]",
            ):
                _ack(child, finding, reason)

    # Dead-letter queues of the asynchronous paths (EventBridge targets, Lambda async failures, the stream
    # mapping's on-failure destination): they ARE the last stop, alarmed when not empty (docs/operations.md).
    for queue in stack.dead_letter_queues.values():
        _ack(queue, "AwsSolutions-SQS3",
             "A dead-letter queue itself (the on-failure destination of a schedule, a Lambda async invocation or "
             "the DynamoDB stream mapping); an alarm fires on its first message and docs/operations.md says how "
             "to redrive it")
