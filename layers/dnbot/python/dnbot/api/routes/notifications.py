"""The user's notification webhook: save, read, remove, and send a test message through the queue."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from dnbot.api.deps import RuntimeDep, UserDep

router = APIRouter(tags=["notifications"])


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook_url: str = Field(min_length=1, max_length=2048)


class WebhookOut(BaseModel):
    webhook_url: str | None


@router.get("/notifications")
def get_webhook(runtime: RuntimeDep, current: UserDep) -> WebhookOut:
    return WebhookOut(webhook_url=runtime.notifications.webhook_of(current.user.user_id))


@router.post("/notifications")
def save_webhook(body: WebhookBody, runtime: RuntimeDep, current: UserDep) -> WebhookOut:
    return WebhookOut(webhook_url=runtime.notifications.save_webhook(current.user.user_id, body.webhook_url))


@router.delete("/notifications", status_code=204)
def remove_webhook(runtime: RuntimeDep, current: UserDep) -> Response:
    runtime.notifications.remove_webhook(current.user.user_id)
    return Response(status_code=204)


@router.post("/notifications/test", status_code=202)
def send_test(runtime: RuntimeDep, current: UserDep) -> dict[str, str]:
    runtime.notifications.send_test(current.user.user_id)
    return {"status": "queued"}
