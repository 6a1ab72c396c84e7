"""The dnbot CDK app: `make synth` (writes cdk.out/) or `npx cdk deploy` (cdk.json runs this file).

Context (`npx cdk deploy -c key=value`):
  stackName      CloudFormation stack name (default: Dnbot)
  adminEmails    comma-separated emails allowed to flip the kill switch from the dashboard
  alertEmail     comma-separated emails subscribed to the alerts topic (each confirms by e-mail)
  webAclArn      a CLOUDFRONT-scope WAF web ACL made in us-east-1 (default: the stack makes one in us-east-1 only)
  emailSender    the SES-verified sender of withdrawal codes (default: none, withdrawals answer 503)
  frontendDist   the built dashboard (default: frontend/dist, from `make frontend`)
  layersDir      the built dependency layers (default: build/layers, from `make layers`)
  functionsDir   the Lambda entry points (default: functions)
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

INFRA_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(INFRA_DIR))  # the sibling modules, also when the CDK CLI runs this file

import aws_cdk as cdk  # noqa: E402
import build_layers  # noqa: E402
import dnbot_stack  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

REPO_ROOT = INFRA_DIR.parent


def cdk_json_context() -> dict[str, object]:
    """cdk.json's feature flags, so `python infra/app.py` synthesizes what `cdk deploy` deploys."""
    path = REPO_ROOT / "cdk.json"
    context = json.loads(path.read_text(encoding="utf-8")).get("context", {}) if path.is_file() else {}
    return dict(context)


def _path(app: cdk.App, key: str, default: Path) -> Path:
    value = app.node.try_get_context(key)
    return (REPO_ROOT / str(value)).resolve() if value else default


def build_app(outdir: str | None = None,
              context: dict[str, object] | None = None) -> tuple[cdk.App, dnbot_stack.DnbotStack]:
    """The app with its one stack and the cdk-nag checks; `context` adds to cdk.json's (tests use it)."""
    # The CDK CLI passes CDK_OUTDIR; run directly (`make synth`), the assembly goes to the repo's cdk.out.
    if outdir is None and "CDK_OUTDIR" not in os.environ:
        outdir = str(REPO_ROOT / "cdk.out")
    app = cdk.App(outdir=outdir, context={**cdk_json_context(), **(context or {})})
    admin_emails = tuple(e.strip() for e in str(app.node.try_get_context("adminEmails") or "").split(",")
                         if e.strip())
    alert_emails = tuple(e.strip() for e in str(app.node.try_get_context("alertEmail") or "").split(",")
                         if e.strip())
    inputs = dnbot_stack.DnbotStackInputs(
        functions_root=_path(app, "functionsDir", dnbot_stack.DEFAULT_FUNCTIONS_ROOT),
        layers_root=_path(app, "layersDir", build_layers.BUILD_DIR),
        frontend_dist=_path(app, "frontendDist", dnbot_stack.DEFAULT_FRONTEND_DIST),
        admin_emails=admin_emails,
        alert_emails=alert_emails,
        web_acl_arn=str(app.node.try_get_context("webAclArn") or "") or None,
        email_sender=str(app.node.try_get_context("emailSender") or "") or None,
    )
    stack = dnbot_stack.DnbotStack(
        app, str(app.node.try_get_context("stackName") or "Dnbot"),
        inputs=inputs,
        # Region and account from the operator's AWS profile at deploy time (environment-agnostic template).
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
                            region=os.environ.get("CDK_DEFAULT_REGION")),
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> int:
    if "CDK_OUTDIR" not in os.environ:
        # Each synthesis stages the assets afresh; old copies (the layers are hundreds of MB) would pile up.
        shutil.rmtree(REPO_ROOT / "cdk.out", ignore_errors=True)
    try:
        app, stack = build_app()
    except ValueError as exc:  # a missing build input: the message names the make target that fixes it
        print(f"error: {exc}", file=sys.stderr)
        return 1
    assembly = app.synth()
    print(f"synthesized {stack.stack_name} into {assembly.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
