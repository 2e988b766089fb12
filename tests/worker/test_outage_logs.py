"""A worker's loops while Redis is away (ffgate.redis.outage): the outage is logged once when it starts and
once when Redis is back, never a traceback per loop turn."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.own_redis import OwnRedis
from tests.redis_db import make_settings
from worker.context import open_context
from worker.scheduler import Scheduler

pytestmark = pytest.mark.anyio


async def test_a_redis_outage_is_logged_once_by_the_worker_loops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    own = OwnRedis(tmp_path)
    await asyncio.to_thread(own.start)
    # No retries inside redis-py: every loop turn meets the outage itself.
    ctx = open_context(make_settings(redis_url=own.url, redis_retry_for_s=0, redis_timeout_s=0.5))
    scheduler = Scheduler(ctx)
    running = asyncio.create_task(scheduler.run())
    try:
        await asyncio.sleep(1.0)
        caplog.set_level(logging.INFO)
        await asyncio.to_thread(own.stop)
        await asyncio.sleep(5.0)  # a scheduler and a dispatcher turn at least once a second
        await asyncio.to_thread(own.start)
        await asyncio.sleep(2.0)
    finally:
        await scheduler.stop()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await ctx.aclose()
        await asyncio.to_thread(own.stop)

    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert not [line for line in lines if line[0] >= logging.ERROR], lines
    assert not [r for r in caplog.records if r.exc_info], lines
    down = [line for line in lines if line[1].startswith("Redis is unavailable")]
    back = [line for line in lines if line[1].startswith("Redis answers again")]
    assert [level for level, _ in down] == [logging.WARNING], lines
    assert [level for level, _ in back] == [logging.INFO], lines
    assert len(lines) <= 3, lines  # the two above, and at most one lost subscription made again
