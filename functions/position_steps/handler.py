"""Step Functions task: one step of the open or close workflow. Input {"step", "state"}; returns the new state."""

from typing import Any

from dnbot import snapstart
from dnbot.observability import logger, tracer
from dnbot.runtime import lambda_runtime


@snapstart.before_snapshot
def _prime() -> None:
    # The trading SDKs (solders, the Hyperliquid SDK, eth-account, privy-client) load here, into the snapshot,
    # rather than in the first step of a half-open position.
    snapstart.prime(lambda_runtime(), modules=(
        "dnbot.services.position_steps", "dnbot.adapters.hyperliquid.trading", "dnbot.adapters.asgard.venue",
        "dnbot.adapters.privy.wallets", "dnbot.adapters.aws.kms", "dnbot.adapters.aws.dynamodb",
        "dnbot.adapters.aws.ssm",
    ), aws_services=("dynamodb", "ssm", "kms", "secretsmanager"))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = event["state"]
    logger.append_keys(step=event["step"], position_id=state.get("position_id"), job_id=state.get("job_id"),
                       user_id=state.get("user_id"), execution=event.get("execution"))
    runtime = lambda_runtime()
    if event["step"] == "withdraw":  # the withdraw workflow (dnbot.services.withdrawals): pays once, signs here
        paid = runtime.withdrawals.execute(state["user_id"], state["withdrawal_id"], runtime.withdrawal_executors)
        return {**state, "status": paid.status, "signature": paid.signature}
    return runtime.steps.run(event["step"], state)
