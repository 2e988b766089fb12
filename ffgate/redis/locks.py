"""Work that one process does for all of them: the IMS token, a refresh of the model catalogue."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

T = TypeVar("T")
POLL_S = 0.05


async def once_for_all(
    redis: aioredis.Redis,
    lock_key: str,
    *,
    lock_ttl_s: float,
    wait_s: float,
    ready: Callable[[], Awaitable[T | None]],
    produce: Callable[[], Awaitable[T]],
) -> T | None:
    """What `ready` finds (another process produced it), else `produce` run under a Redis lock by this
    process; None if neither happened within `wait_s`. The lock expires after `lock_ttl_s`, so a holder
    that dies frees it, and is released atomically (redis-py's `Lock`: only by its owner)."""
    lock = Lock(redis, lock_key, timeout=lock_ttl_s, thread_local=False)
    deadline = time.monotonic() + wait_s
    while True:
        found = await ready()
        if found is not None:
            return found
        if await lock.acquire(blocking=False):
            try:
                # The previous holder may have produced it between our look and our lock.
                found = await ready()
                return found if found is not None else await produce()
            finally:
                with contextlib.suppress(LockError):  # expired meanwhile: someone else may hold it now
                    await lock.release()
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(POLL_S)
