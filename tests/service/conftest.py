from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.redis_db import flushed


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def redis(anyio_backend: str) -> AsyncIterator[aioredis.Redis]:
    """The private test database (DB 8), flushed before and after the test."""
    async with flushed() as client:
        yield client
