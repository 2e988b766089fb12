from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from tests.redis_db import QUEUE_REDIS_URL, flushed
from tests.s3_server import S3Server, start_s3_server


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


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3-compatible server (SeaweedFS) on loopback, started once for the tests that ask for it."""
    server = start_s3_server(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        server.stop()
