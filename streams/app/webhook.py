"""Alert delivery: post each alert on leads.alerts to a Slack-compatible webhook.

Enabled by LEADSCORE_WEBHOOK_URL; `install_webhook` adds one agent to the worker's app.

- Payload: Slack's incoming-webhook JSON (`text` plus `blocks`) with the lead id, threshold,
  score, top factors and the contact's name, title and company, never the email: chat
  channels are wider audiences than the CRM. The alert_id goes along (a block and an
  `X-Leadscore-Alert-Id` header) so any receiver can dedupe.
- Retries: network errors, timeouts, 408, 429 and 5xx are retried with exponential back-off
  and jitter (Retry-After, in seconds or as an HTTP date, honoured up to the cap), at most
  LEADSCORE_WEBHOOK_MAX_ATTEMPTS attempts; other 4xx (a revoked or mistyped webhook) fail at
  once. A final failure becomes a dead letter with error `webhook_failed` and the alert's
  bytes, to replay from there.
- Once per alert_id: ids of alerts delivered (or given up on) are kept in a Faust table keyed
  by alert_id. The table is changelogged to Kafka, so the memory survives restarts and moves
  with the partition when another worker takes it over; an in-process set would forget on
  every restart and re-post everything replayed after a crash. The table's changelog
  partition is the alert's partition (alerts are keyed by lead id, so a redelivered alert
  always comes back on the partition that owns its id). The id is written right after the
  POST succeeds: a crash in the few milliseconds between the 2xx and the changelog write is
  the one case that can post again, which the alert_id lets a receiver absorb.
- The agent runs at concurrency 1 (it writes a table, FS#606): while one alert is being
  retried, later alerts wait. Back-off is bounded, so a dead webhook costs at most
  (max attempts x timeout + the back-off sum) per alert.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import faust
import orjson
from pydantic import ValidationError

from schemas.codec import encode
from schemas.outputs import Alert, DeadLetterError
from schemas.topics import ALERTS, DEAD_LETTER
from streams.app import metrics
from streams.app.deadletter import dead_letter
from streams.settings import Settings

log = logging.getLogger(__name__)

TABLE_NAME = "webhook-delivered"
USER_AGENT = "leadscore-webhook/1"
RETRYABLE_STATUS = frozenset({408, 425, 429})
DONE_OK, DONE_FAILED = b"ok", b"failed"


@dataclass(frozen=True)
class WebhookPolicy:
    """Retry policy (LEADSCORE_WEBHOOK_* settings; see `from_settings`)."""

    max_attempts: int = 5
    backoff_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookPolicy:
        return cls(
            max_attempts=settings.webhook_max_attempts,
            backoff_seconds=settings.webhook_backoff_seconds,
            backoff_max_seconds=settings.webhook_backoff_max_seconds,
            timeout_seconds=settings.webhook_timeout_seconds,
        )

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Wait before retry number `retry` (1-based): doubling, with equal jitter so that
        many workers do not retry in lockstep; a server's Retry-After wins up to the cap."""
        if retry_after is not None:
            return min(retry_after, self.backoff_max_seconds)
        ceiling = min(self.backoff_max_seconds, self.backoff_seconds * 2.0 ** (retry - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


# --- the message -------------------------------------------------------------------------


def _escape(text: str) -> str:
    # Slack's mrkdwn control characters; a name like "<!channel>" must not page a channel.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(alert: Alert) -> dict[str, Any]:
    """Slack-compatible JSON for one alert (no email address)."""
    c = alert.contact
    who = _escape(" · ".join(x for x in (c.name, c.job_title) if x) or "unknown contact")
    company = _escape(c.company or "-")
    headline = (
        f"Lead {alert.lead_id} crossed {alert.threshold} ({alert.level}): "
        f"score {alert.score} (was {alert.previous_score})"
    )
    factors = "\n".join(f"• {_escape(f.factor)} {f.points:+g}" for f in alert.factors) or "-"
    fields = [
        f"*Lead*\n{_escape(alert.lead_id)}",
        f"*Score*\n{alert.score} (was {alert.previous_score})",
        f"*Contact*\n{who}",
        f"*Company*\n{company}",
    ]
    return {
        "text": _escape(headline),
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": f"{alert.threshold.upper()} alert"},
            },
            {"type": "section", "fields": [{"type": "mrkdwn", "text": t} for t in fields]},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Why*\n{factors}"}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"alert {alert.alert_id} · {alert.occurred_at.isoformat()}",
                    }
                ],
            },
        ],
    }


# --- delivery ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attempt:
    ok: bool
    retryable: bool
    detail: str  # "HTTP 503", "timeout", "ClientConnectorError": never the URL (a secret)
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    ok: bool
    attempts: int
    detail: str


async def post_once(
    session: aiohttp.ClientSession, url: str, body: bytes, alert_id: str
) -> Attempt:
    headers = {"Content-Type": "application/json", "X-Leadscore-Alert-Id": alert_id}
    try:
        async with session.post(url, data=body, headers=headers) as resp:
            await resp.read()
            status = resp.status
            retry_after = retry_after_seconds(resp.headers.get("Retry-After"))
    except TimeoutError:
        return Attempt(False, True, "timeout")
    except aiohttp.ClientError as exc:
        return Attempt(False, True, type(exc).__name__)
    if 200 <= status < 300:
        return Attempt(True, False, f"HTTP {status}")
    retryable = status >= 500 or status in RETRYABLE_STATUS
    return Attempt(False, retryable, f"HTTP {status}", retry_after)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header, either form RFC 9110 allows: delta-seconds
    ("120") or an HTTP date ("Wed, 21 Oct 2026 07:28:00 GMT", counted from `now`, default the
    clock). None when absent or unreadable (the back-off applies); never negative. The cap is
    the policy's (`WebhookPolicy.delay`)."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000": UTC, with no claim about the local zone
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return None if math.isnan(seconds) else max(0.0, seconds)


async def deliver(
    post: Callable[[], Awaitable[Attempt]],
    policy: WebhookPolicy,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Delivery:
    """POST until it succeeds, fails for good, or the attempts are used up."""
    attempt = Attempt(False, True, "not attempted")
    for number in range(1, policy.max_attempts + 1):
        attempt = await post()
        if attempt.ok:
            metrics.WEBHOOK.labels("ok").inc()
            return Delivery(True, number, attempt.detail)
        if not attempt.retryable or number == policy.max_attempts:
            break
        metrics.WEBHOOK.labels("retry").inc()
        await sleep(policy.delay(number, attempt.retry_after))
    metrics.WEBHOOK.labels("failed").inc()
    return Delivery(False, number, attempt.detail)


# --- the agent ---------------------------------------------------------------------------


class WebhookSink:
    """Delivers alert messages once each; `done` maps alert_id -> ok|failed."""

    def __init__(
        self, url: str, policy: WebhookPolicy, done: Any, dead_letters: Any, alerts_topic: str
    ) -> None:
        self.url, self.policy, self.done = url, policy, done
        self.dead_letters, self.alerts_topic = dead_letters, alerts_topic

    async def handle(self, session: aiohttp.ClientSession, message: Any) -> None:
        if message.value is None:
            return  # not an alert (alerts are never deleted, but be lenient)
        try:
            alert = Alert.model_validate_json(message.value)
        except ValidationError as exc:
            self._dead_letter(message, "schema", f"not an alert: {exc.error_count()} errors")
            metrics.WEBHOOK.labels("failed").inc()
            return
        if self.done.get(alert.alert_id) is not None:
            log.info("webhook: alert %s already handled; not posted again", alert.alert_id)
            return
        body = orjson.dumps(slack_message(alert))
        result = await deliver(
            lambda: post_once(session, self.url, body, alert.alert_id), self.policy
        )
        if not result.ok:
            detail = f"webhook gave {result.detail} after {result.attempts} attempt(s)"
            log.warning("webhook: alert %s failed: %s", alert.alert_id, detail)
            self._dead_letter(message, "webhook_failed", detail)
        # Given-up alerts are remembered too: the dead letter is where they are replayed from.
        self.done[alert.alert_id] = DONE_OK if result.ok else DONE_FAILED

    def _dead_letter(self, message: Any, code: DeadLetterError, detail: str) -> None:
        record = dead_letter(
            self.alerts_topic,
            message.partition,
            message.offset,
            message.key,
            message.value,
            code,
            detail,
        )
        self.dead_letters.send_soon(key=message.key or b"", value=encode(record))
        metrics.DEAD_LETTERS.labels(code).inc()


def install_webhook(app: faust.App, settings: Settings) -> None:
    """Add the webhook agent (and its table of handled alert ids) to the worker's app."""
    if not settings.webhook_url:
        return
    url = settings.webhook_url
    policy = WebhookPolicy.from_settings(settings)
    alerts = app.topic(settings.topic(ALERTS), key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(settings.topic(DEAD_LETTER))
    done = app.Table(
        TABLE_NAME,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,  # bytes types select Faust's raw codec: ids in, markers out
        value_type=bytes,
    )
    sink = WebhookSink(url, policy, done, dead_letters, settings.topic(ALERTS))
    timeout = aiohttp.ClientTimeout(total=policy.timeout_seconds)

    @app.agent(alerts, name="webhook", concurrency=1)
    async def webhook(stream: faust.StreamT[bytes]) -> None:
        async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": USER_AGENT}) as s:
            async for event in stream.events():
                await sink.handle(s, event.message)
