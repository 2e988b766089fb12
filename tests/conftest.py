from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.redis_db import QUEUE_REDIS_URL, flushed


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def redis(anyio_backend: str) -> AsyncIterator[aioredis.Redis]:
    """The private test database (DB 8), flushed before and after the test."""
    async with flushed() as client:
        yield client


@pytest.fixture
async def qredis(anyio_backend: str) -> AsyncIterator[aioredis.Redis]:
    """The fair queue's test database (DB 7), flushed before and after the test."""
    async with flushed(QUEUE_REDIS_URL) as client:
        yield client
