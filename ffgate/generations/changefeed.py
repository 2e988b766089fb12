"""The change feed: every public status change is PUBLISHed on `events:<id>` by whoever made it (see
ffgate.generations.records). One pattern subscription per gateway process wakes every request waiting on a
job, so no
waiter polls Redis in a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator

import redis.asyncio as aioredis

from ffgate.redis.keys import Keys
from ffgate.redis.outage import REDIS_ERRORS, RedisOutage

log = logging.getLogger(__name__)


class ChangeFeed:
    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._prefix_len = len(keys.events(""))
        self._waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="change-feed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=5)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.contextmanager
    def watch(self, gen_id: str) -> Iterator[asyncio.Event]:
        """An event set on the next change of `gen_id`; enter it *before* reading the record."""
        event = asyncio.Event()
        self._waiters[gen_id].add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(gen_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[gen_id]

    async def _listen(self) -> None:
        def on_subscribed() -> None:
            self._ready.set()
            self._wake_all()  # a message may have been missed while (re)subscribing: everyone re-reads

        def on_message(channel: bytes, _: bytes) -> None:
            self._wake(channel.decode()[self._prefix_len :])

        await listen(self._redis, self._keys.events_pattern, on_message, on_subscribed)

    def _wake(self, gen_id: str) -> None:
        for event in self._waiters.get(gen_id, ()):
            event.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()


async def listen(
    redis: aioredis.Redis,
    pattern: str,
    on_message: Callable[[bytes, bytes], None],
    on_subscribed: Callable[[], None],
    outage: RedisOutage | None = None,
) -> None:
    """Call `on_message(channel, data)` for every message published on a channel matching `pattern`, for
    ever: a lost subscription is made again (and `on_subscribed` called each time it is in place)."""
    while True:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.psubscribe(pattern)
            on_subscribed()
            async for message in pubsub.listen():
                if message["type"] == "pmessage":
                    on_message(message["channel"], message["data"])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the subscription is the only ear: never let it die
            if outage is not None and isinstance(exc, REDIS_ERRORS):
                outage.failed(exc)  # told once, not at every attempt to subscribe again
            else:
                log.warning(
                    "lost the subscription to %s (%s); subscribing again", pattern, type(exc).__name__
                )
            await asyncio.sleep(0.5)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]


async def until_set(seconds: float, *events: asyncio.Event) -> bool:
    """Sleep until any of `events` is set or `seconds` pass; True if one was set (then they are cleared
    by whoever owns them). The one way ffgate waits to be woken: by the change feed, a wake-up or a stop."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(waiters, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
        return bool(done)
    finally:
        for waiter in waiters:
            waiter.cancel()
