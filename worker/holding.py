"""What a worker learned from Firefly, held in the process while Redis is away and written as soon as it
answers again: a job id Firefly handed out must never be dropped (the job is paid for)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ffgate.redis.outage import REDIS_ERRORS
from worker.context import WorkerContext

log = logging.getLogger(__name__)
T = TypeVar("T")
FIRST_RETRY_S = 0.1
MAX_RETRY_S = 1.0


async def until_written(ctx: WorkerContext, what: str, write: Callable[[], Awaitable[T]]) -> T:
    """`write()` until Redis takes it, retried for up to FFGATE_REDIS_OUTAGE_HOLD_S (a stale pooled
    connection is simply the first failure), then the error is raised."""
    deadline = time.monotonic() + ctx.settings.redis_outage_hold_s
    wait = FIRST_RETRY_S
    held = False
    while True:
        try:
            result = await write()
        except REDIS_ERRORS as exc:
            if time.monotonic() + wait > deadline:
                log.error("Redis did not come back in time: %s is lost (%s)", what, type(exc).__name__)
                raise
            if not held:
                log.warning("Redis unavailable (%s): holding %s until it answers", type(exc).__name__, what)
                held = True
            await asyncio.sleep(wait)
            wait = min(MAX_RETRY_S, wait * 2)
            continue
        if held:
            log.info("Redis answered: %s written", what)
        return result
