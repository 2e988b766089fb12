"""Retention: stored outputs go when no generation refers to them any more (ffgate.generations.stored).

Deleting a generation removes the objects only it referred to at once (the gateway does it). What expires
by itself, records `FFGATE_RESULT_TTL_S` after they finished, is removed by this sweep: every
`FFGATE_SWEEP_INTERVAL_S` one worker (whichever takes the Redis lock) lists the store and deletes each
object that no live generation refers to and that is older than `FRESH_S` (a copy takes its reference
before it writes, so the grace only covers clocks that disagree).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time

from ffgate.errors import StorageUnavailable
from ffgate.generations.stored import StoredOutputs
from ffgate.storage import ObjectStore
from worker.context import WorkerContext

log = logging.getLogger(__name__)

FRESH_S = 600.0


async def sweep(store: ObjectStore, stored: StoredOutputs) -> int:
    """One pass over the store; returns how many objects it removed."""
    removed = 0
    fresh = time.time() - FRESH_S
    async for listed in store.iter_objects():
        if listed.modified_at < fresh and await stored.unreferenced(listed.key):
            await store.delete(listed.key)
            removed += 1
    return removed


async def sweep_forever(ctx: WorkerContext, stopping: asyncio.Event) -> None:
    interval = ctx.settings.sweep_interval_s
    while not stopping.is_set():
        try:
            # One worker per interval: the lock lapses by itself, so a dead sweeper's turn passes on.
            if await ctx.redis.set(ctx.keys.sweep_lock, str(os.getpid()), nx=True, ex=max(1, int(interval))):
                removed = await sweep(ctx.store, ctx.stored)
                if removed:
                    log.info("retention sweep removed %d stored outputs", removed)
        except StorageUnavailable as exc:
            log.warning("retention sweep: the store is unavailable (%s); next time", exc.reason)
        except Exception as exc:
            ctx.redis_outage.report(exc, log, "retention sweep failed; next time")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=interval)
