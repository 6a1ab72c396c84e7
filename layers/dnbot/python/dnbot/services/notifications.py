"""Notifications to users: what happened to their account, POSTed to the webhook they saved (Slack, Discord or
anything that accepts `{"text": ...}`).

One place decides what is worth a message: the state table's stream (ws_broadcast) hands every new activity
line here (`from_stream`), whichever workflow, tick or API call wrote it; opens, closes, unwinds, failed opens,
needs-attention, rebalances, liquidation warnings (the tick's `risk_warning` lines, and positions closing for
liquidation risk) and withdrawals become a queued message. The notifier Lambda
delivers each (`deliver`), looking the URL up again at delivery time and checking it once more, so a removed or
re-pointed webhook is honoured. The queue retries; its dead-letter queue keeps what never got through.

Webhook URLs are an SSRF risk (the server POSTs to them): only https, no credentials in the URL, and every
address the host resolves to must be public. `dnbot local` may also allow http to a loopback address, so a
trader can try it with a local listener.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dnbot.domain.risk import ExitReason
from dnbot.domain.risk_warnings import RISK_WARNING
from dnbot.ports import Clock, Notifier, WebhookSender, WebhookStore
from dnbot.services.errors import NotFound, ServiceError

MAX_URL_LENGTH = 2048
MAX_TEXT_LENGTH = 1900  # Discord refuses content over 2000 characters
# Activity kinds a trader is told about (services/portfolio.py's PositionJournal writes them), and prefixes for
# the families other parts add (rebalance_*, liquidation_*, withdrawal_*).
NOTIFY_KINDS = frozenset({"position_opened", "position_closed", "unwind", "position_failed", "needs_attention",
                          "position_rebalanced", RISK_WARNING})
NOTIFY_PREFIXES = ("rebalance", "liquidation", "withdrawal", "withdraw", "deposit")  # deposit: services/deposits
TEST_KIND = "test"
# A position the bot starts closing because a leg is near liquidation is the trader's liquidation warning: its
# item moves to "closing" with the exit reason (dnbot.domain.risk.ExitReason) in close_reason.
LIQUIDATION_WARNING = "liquidation_warning"
LIQUIDATION_EXITS = tuple(reason.value for reason in (ExitReason.HEALTH_FACTOR, ExitReason.MARGIN_RATIO,
                                                      ExitReason.LIQUIDATION_DISTANCE))

Item = Mapping[str, Any]
Resolver = Callable[[str, int], list[str]]  # host, port -> the addresses it resolves to


class InvalidWebhook(ServiceError):
    status = 422
    code = "invalid_webhook"


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    """Which URLs the server may POST to."""

    resolve: Resolver
    allow_loopback_http: bool = False  # `dnbot local` only

    def check(self, url: str) -> str:
        """The URL, stripped, or InvalidWebhook saying what is wrong with it."""
        url = url.strip()
        if not url or len(url) > MAX_URL_LENGTH:
            raise InvalidWebhook(f"webhook_url must be 1-{MAX_URL_LENGTH} characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as bad:
            raise InvalidWebhook(f"webhook_url is not a valid URL: {bad}") from bad
        host = parts.hostname
        if parts.scheme not in ("https", "http") or not host:
            raise InvalidWebhook("webhook_url must be an https:// URL")
        if parts.username is not None or parts.password is not None:
            raise InvalidWebhook("webhook_url must not carry a user name or password")
        try:
            addresses = self.resolve(host, port or (443 if parts.scheme == "https" else 80))
        except OSError as unresolved:
            raise InvalidWebhook(f"webhook_url host {host!r} does not resolve") from unresolved
        if not addresses:
            raise InvalidWebhook(f"webhook_url host {host!r} does not resolve")
        parsed = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
        loopback_only = all(a.is_loopback for a in parsed)
        if self.allow_loopback_http and loopback_only:
            return url
        if parts.scheme != "https":
            raise InvalidWebhook("webhook_url must be an https:// URL")
        private = [str(a) for a in parsed if not a.is_global]
        if private:
            raise InvalidWebhook(f"webhook_url host {host!r} resolves to a private or local address ({private[0]})")
        return url


def notification_for(item: Item) -> tuple[str, str, dict[str, Any]] | None:
    """(user id, text, event) for an activity item worth telling the trader about; None otherwise."""
    if item.get("type") != "activity":
        return None
    kind = str(item.get("kind", ""))
    user_id, message = item.get("user_id"), item.get("message")
    if kind not in NOTIFY_KINDS and not kind.startswith(NOTIFY_PREFIXES):
        return None
    if not user_id or not message:
        return None
    if kind == RISK_WARNING:  # the tick's warning before an exit level ("Liquidation warning on SOL: ...")
        kind = LIQUIDATION_WARNING
    event: dict[str, Any] = {"kind": kind, "at": item.get("at"), "position_id": item.get("position_id")}
    detail = item.get("detail")
    if isinstance(detail, Mapping):
        event["detail"] = {str(k): str(v) for k, v in detail.items()}
    return str(user_id), f"dnbot: {message}"[:MAX_TEXT_LENGTH], event


def liquidation_warning_for(old: Item, new: Item) -> tuple[str, str, dict[str, Any]] | None:
    """(user id, text, event) when a position starts closing for liquidation risk; None otherwise."""
    if new.get("type") != "position" or new.get("status") != "closing" or old.get("status") == "closing":
        return None
    reason = str(new.get("close_reason") or "")
    if not new.get("user_id") or not any(exit_reason in reason for exit_reason in LIQUIDATION_EXITS):
        return None
    text = (f"dnbot: liquidation warning: {new.get('asset')} on {new.get('protocol')} is close to liquidation "
            f"({reason}); the bot is closing it now.")
    event = {"kind": LIQUIDATION_WARNING, "at": new.get("updated_at"), "position_id": new.get("position_id"),
             "detail": {"reason": reason}}
    return str(new["user_id"]), text[:MAX_TEXT_LENGTH], event


class NotificationService:
    def __init__(self, webhooks: WebhookStore, queue: Notifier, sender: WebhookSender, policy: WebhookPolicy,
                 clock: Clock) -> None:
        self._webhooks = webhooks
        self._queue = queue
        self._sender = sender
        self._policy = policy
        self._clock = clock

    # --- the user's setting (API) ---

    def webhook_of(self, user_id: str) -> str | None:
        return self._webhooks.get_webhook(user_id)

    def save_webhook(self, user_id: str, url: str) -> str:
        checked = self._policy.check(url)
        self._webhooks.put_webhook(user_id, checked)
        return checked

    def remove_webhook(self, user_id: str) -> None:
        self._webhooks.delete_webhook(user_id)

    def send_test(self, user_id: str) -> None:
        """Queue a test message to the saved webhook (delivered like every other notification)."""
        if self._webhooks.get_webhook(user_id) is None:
            raise NotFound("no webhook saved: POST /api/v1/notifications first", code="no_webhook")
        self._queue.notify(user_id, "dnbot: test message. Notifications reach this channel.",
                           {"kind": TEST_KIND, "at": self._clock.now().isoformat(), "position_id": None})

    # --- producing (the stream consumer) and delivering (the notifier) ---

    def from_stream(self, changes: Iterable[tuple[Item, Item]]) -> int:
        """Queue a message for every change worth one ((old image, new image) pairs: new activity lines and
        positions closing for liquidation risk), for users who saved a webhook."""
        queued = 0
        for old, new in changes:
            # activity lines are only ever inserted; a position reaches "closing" by an update
            found = notification_for(new) if not old else liquidation_warning_for(old, new)
            if found is None:
                continue
            user_id, text, event = found
            if self._webhooks.get_webhook(user_id) is None:
                continue
            self._queue.notify(user_id, text, event)
            queued += 1
        return queued

    def deliver(self, message: Mapping[str, Any]) -> bool:
        """POST one queued message; False when there is nothing to deliver to (webhook removed or no longer
        acceptable). Raises when the webhook fails, so the queue retries it."""
        user_id = str(message["user_id"])
        url = self._webhooks.get_webhook(user_id)
        if url is None:
            return False
        try:
            url = self._policy.check(url)  # again: the host may resolve elsewhere now (DNS rebinding)
        except InvalidWebhook:
            return False
        self._sender.post(url, {"text": str(message["text"]), "event": dict(message.get("event") or {})})
        return True
