"""The sliding window both limits share, on a real Redis: the Adobe org's budget for the workers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio as aioredis

from service.keys import Keys
from service.ratelimit import UpstreamBudget
from tests.stack import REDIS_HOST, Stack


def test_the_upstream_budget_takes_rpm_requests_then_says_how_long_to_wait(tmp_path: Path) -> None:
    stack = Stack(tmp_path)  # only for its private Redis database

    async def scenario() -> list[float]:
        redis = aioredis.Redis.from_url(f"redis://{REDIS_HOST}/{stack.db}")
        try:
            budget = UpstreamBudget(redis, Keys("t:"), "adobe-client", rpm=3, rpd=5)
            waits = [await budget.acquire() for _ in range(4)]
            await budget.pause(2.0)
            waits.append(await budget.acquire())
            return waits
        finally:
            await redis.aclose()

    try:
        waits = asyncio.run(scenario())
    finally:
        stack.close()
    assert waits[:3] == [0, 0, 0]
    assert 59 < waits[3] <= 60  # the oldest of the three leaves the window in a minute
    assert 1 < waits[4] <= 2  # a 429's pause comes first
