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
from urllib.parse import urlsplit, urlunsplit

import httpx

from ffgate.budget.eta import queue_info
from ffgate.generations.records import utcnow
from ffgate.logs import bind
from ffgate.webhooks.delivery import (
    IPAddress,
    RefusedDestination,
    resolve_destination,
    retry_delay,
    signed_headers,
    signing_secret,
)
from service.schemas import Generation
from worker.context import WorkerContext

log = logging.getLogger(__name__)

# Take attempt number ARGV[1] of a delivery, unless another worker already did.
_CLAIM_ATTEMPT = """
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'attempt', tonumber(ARGV[1]) + 1)
return 1
"""


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def deliver(ctx: WorkerContext, webhook_id: str) -> None:
    member = f"deliver:{webhook_id}"
    key = ctx.keys.delivery(webhook_id)
    raw: dict[bytes, bytes] = await ctx.redis.hgetall(key)  # type: ignore[assignment]
    fields = {k.decode(): v.decode() for k, v in raw.items()}
    record = await ctx.jobs.get(fields["genId"]) if fields else None
    if record is None or not record.webhook_url:
        await ctx.jobs.unschedule(member)
        return
    bind(request_id=record.request_id, generation_id=record.id, client_id=record.client_id)
    attempt = int(fields["attempt"])
    if not await ctx.redis.eval(_CLAIM_ATTEMPT, 1, key, str(attempt)):
        return  # another worker is on it (its lease on the entry ran out while it waited for a slot)
    attempt += 1
    body = fields.get("body")
    if body is None:
        base = (ctx.settings.public_base_url or "").rstrip("/")
        data = Generation.from_record(record, base, await queue_info(ctx.fairqueue, record))
        message = {"type": fields["event"], "timestamp": utcnow(), "data": data.model_dump(mode="json")}
        body = json.dumps(message, separators=(",", ":"))
        await ctx.redis.hset(key, "body", body)

    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    final = False
    try:
        addresses = await resolve_destination(record.webhook_url, ctx.settings.webhook_allowed_cidrs)
        secret = await signing_secret(ctx.settings, ctx.redis, ctx.keys, record.client_id)
        headers = signed_headers(secret, webhook_id, body, datetime.now(UTC))
        status = await _post(ctx.webhook_http, record.webhook_url, addresses[0], headers, body)
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
        delay = retry_delay(ctx.settings, attempt, float(fields["firstAt"]), now)
        next_at = None if delay is None else now + delay
    entry = {
        "webhookId": webhook_id,
        "event": fields["event"],
        "attempt": attempt,
        "statusCode": status,
        "durationMs": duration_ms,
        "error": error,
        "at": _iso(now),
        "nextAttemptAt": _iso(next_at) if next_at else None,
    }
    log_key = ctx.keys.delivery_log(record.id)
    pipe = ctx.redis.pipeline(transaction=True)
    pipe.rpush(log_key, json.dumps(entry, separators=(",", ":")))
    pipe.expire(log_key, max(ctx.settings.result_ttl_s, 2 * 86400))
    if next_at is None:
        pipe.zrem(ctx.keys.schedule, member)
    else:
        pipe.zadd(ctx.keys.schedule, {member: next_at})
    await pipe.execute()
    log.info("webhook %s attempt %d for %s: %s", webhook_id, attempt, record.id, error or status)


async def _post(
    client: httpx.AsyncClient, url: str, address: IPAddress, headers: dict[str, str], body: str
) -> int:
    """POST to the address that was checked, not to whatever the name resolves to a moment later."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    ip = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{ip}:{parts.port}" if parts.port else ip
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    headers = {**headers, "host": parts.netloc.rpartition("@")[2]}
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    # The body of the answer is never read: its size cannot matter.
    async with client.stream(
        "POST", pinned, headers=headers, content=body, extensions=extensions
    ) as response:
        return response.status_code
