"""Webhook deliveries, run by the worker's dispatcher as their own scheduled work (`deliver:<webhook-id>`),
each under a concurrency limit of its own, so a slow receiver holds a delivery slot and never a job.

The message body is built once, at the first attempt, and sent unchanged (same `webhook-id`) on every retry;
only the timestamp and signature are new. Each attempt is recorded; `deliveries:<job>` lists them.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

import httpx

from ffgate import metrics
from ffgate.budget.eta import queue_place
from ffgate.clock import iso, utcnow
from ffgate.generations.records import Record
from ffgate.generations.views import Generation
from ffgate.logs import bind
from ffgate.webhooks.destinations import RefusedDestination, destination
from ffgate.webhooks.schedule import Message, retry_delay
from ffgate.webhooks.signing import signed_headers, signing_secret
from worker.context import WorkerContext

log = logging.getLogger(__name__)


async def deliver(ctx: WorkerContext, webhook_id: str) -> None:
    message = await ctx.deliveries.message(webhook_id)
    record = await ctx.jobs.get(message.gen_id) if message else None
    if message is None or record is None or not record.webhook_url:
        await ctx.deliveries.drop(webhook_id)
        return
    bind(request_id=record.request_id, generation_id=record.id, client_id=record.client_id)
    if not await ctx.deliveries.claim(message):
        return  # another worker is on it
    attempt = message.attempt + 1
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    final = False
    try:
        body = message.body or await _build_body(ctx, message, record)
    except (ValueError, TypeError, RecursionError) as exc:  # a record that cannot be rendered: final
        log.warning("webhook %s for %s cannot be built: %s", webhook_id, record.id, type(exc).__name__)
        body, error, final = None, f"the webhook body could not be built: {type(exc).__name__}", True
    try:
        if body is not None:
            secret = await signing_secret(ctx.settings, ctx.redis, ctx.keys, record.client_id)
            headers = signed_headers(secret, webhook_id, body, datetime.now(UTC))
            status = await _post(ctx.webhook_http, record.webhook_url, headers, body)
    except RefusedDestination as exc:
        error, final = str(exc), True
    except LookupError as exc:
        error, final = str(exc), True
    except httpx.TimeoutException:
        error = f"no answer within {ctx.settings.webhook_timeout_s:g}s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    duration_ms = int((time.monotonic() - started) * 1000)

    now = time.time()
    next_at: float | None = None
    if status is not None and 200 <= status < 300:
        final = True
    elif status == 410:
        final, error = True, "410 Gone: the receiver asked for no more deliveries"
    elif status is not None:
        error = f"answered {status}"
    if not final:
        delay = retry_delay(ctx.settings, attempt, message.first_at, now)
        next_at = None if delay is None else now + delay
    entry = {
        "webhookId": webhook_id,
        "event": message.event,
        "attempt": attempt,
        "statusCode": status,
        "durationMs": duration_ms,
        "error": error,
        "at": iso(datetime.fromtimestamp(now, UTC)),
        "nextAttemptAt": iso(datetime.fromtimestamp(next_at, UTC)) if next_at else None,
    }
    await ctx.deliveries.record(message, entry, next_at)
    _count(status, final, next_at, message.first_at, now)
    log.info("webhook %s attempt %d for %s: %s", webhook_id, attempt, record.id, error or status)


def _count(status: int | None, final: bool, next_at: float | None, first_at: float, now: float) -> None:
    if status is not None and 200 <= status < 300:
        metrics.WEBHOOK_ATTEMPTS.labels("delivered").inc()
        metrics.WEBHOOK_DELIVERY_LAG.observe(max(0.0, now - first_at))
    elif final and status is None:
        metrics.WEBHOOK_ATTEMPTS.labels("refused").inc()  # a destination it may not reach
    elif final or next_at is None:
        metrics.WEBHOOK_ATTEMPTS.labels("gave_up").inc()  # 410, or out of retries
    else:
        metrics.WEBHOOK_ATTEMPTS.labels("failed").inc()  # tried again later


async def _build_body(ctx: WorkerContext, message: Message, record: Record) -> str:
    """The message body, built at the first attempt and kept, so every retry sends the same bytes."""
    base = (ctx.settings.public_base_url or "").rstrip("/")
    data = Generation.from_record(record, base, await queue_place(ctx.fairqueue, record))
    payload = {"type": message.event, "timestamp": utcnow(), "data": data.model_dump(mode="json")}
    body = json.dumps(payload, separators=(",", ":"))
    await ctx.deliveries.keep_body(message, body)
    return body


async def _post(client: httpx.AsyncClient, url: str, headers: dict[str, str], body: str) -> int:
    """POST through the webhook client, which checks the URL's host and its addresses on every connection
    it makes (ffgate.webhooks.connections); the URL's own form is checked here first."""
    destination(url)
    # The body of the answer is never read: its size cannot matter.
    async with client.stream("POST", url, headers=headers, content=body) as response:
        return response.status_code
