"""A Redis outage, told once: logged when the first command fails and again when Redis answers, never once
per request or per loop turn (during an outage every command fails alike, and a line each would bury the
cause). The gateway answers 503 meanwhile; a worker's loops wait and go on, holding what Firefly told it."""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis
import redis.exceptions

log = logging.getLogger(__name__)

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
PROBE_EVERY_S = 0.5


class RedisOutage:
    def __init__(
        self,
        redis: aioredis.Redis,
        meanwhile: str = "answering 503 until it is back",
        *,
        start_level: int = logging.ERROR,
        end_level: int = logging.WARNING,
    ) -> None:
        self._redis = redis
        self._meanwhile = meanwhile
        self._levels = (start_level, end_level)
        self._since: float | None = None
        self._watch: asyncio.Task[None] | None = None

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException) -> None:
        """A command failed for want of Redis: the start of an outage, unless one is known already."""
        if self._since is not None:
            return
        self._since = time.monotonic()
        log.log(self._levels[0], "Redis is unavailable (%s); %s", type(exc).__name__, self._meanwhile)
        self._watch = asyncio.get_running_loop().create_task(self._until_back())

    def report(self, exc: Exception, logger: logging.Logger, what: str) -> None:
        """A loop's failure: a Redis error once per outage, anything else with its traceback."""
        if isinstance(exc, REDIS_ERRORS):
            self.failed(exc)
        else:
            logger.error(what, exc_info=exc)

    async def _until_back(self) -> None:
        while True:
            await asyncio.sleep(PROBE_EVERY_S)
            try:
                await self._redis.ping()
            except REDIS_ERRORS:
                continue
            break
        assert self._since is not None
        log.log(self._levels[1], "Redis answers again, after %.1fs", time.monotonic() - self._since)
        self._since = None

    async def aclose(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
