"""The private Redis databases of the service/worker unit tests (DB 8; DB 7 for the fair queue's), and
settings that point at them.

The e2e stack claims DBs 9-15 for itself, so these tests and a concurrent e2e run never share keys.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

from ffgate.config import Settings

# `make test REDIS_PORT=N` runs the suite against another Redis, so two checkouts can test at once.
REDIS_HOST = f"127.0.0.1:{os.environ.get('TEST_REDIS_PORT', '6379')}"
REDIS_URL = f"redis://{REDIS_HOST}/8"
QUEUE_REDIS_URL = f"redis://{REDIS_HOST}/7"
PREFIX = "ffgate-test:"


def make_settings(**overrides: Any) -> Settings:
    """Settings with every field the unit tests rely on spelled out, so no FFGATE_* variable leaks in."""
    values: dict[str, Any] = {
        "redis_url": REDIS_URL,
        "redis_prefix": PREFIX,
        "adobe_client_id": "ffgate-test-client",
        "adobe_client_secret": "ffgate-test-secret",
        "adobe_scopes": "openid,AdobeID,firefly_api,ff_apis",
        "ims_url": "https://ims.test",
        "firefly_url": "https://firefly.test",
        "model_version": "image3_custom",
        "token_refresh_margin_s": 300,
        "upstream_rpm": 0,
        "upstream_rpd": 0,
        "result_ttl_s": 600,
        "max_body_bytes": 64 * 1024,
        "poll_first_s": 2.0,
        "poll_interval_s": 2.5,
        "poll_tail_s": 1.0,
        "poll_max_interval_s": 15.0,
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def connect(url: str = REDIS_URL) -> AsyncIterator[aioredis.Redis]:
    """One more client of the test database (another process, as far as the code under test can tell)."""
    client = aioredis.Redis.from_url(url)
    try:
        yield client
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def flushed(url: str = REDIS_URL) -> AsyncIterator[aioredis.Redis]:
    """A client of the test database, which is empty before and emptied after."""
    async with connect(url) as client:
        await client.flushdb()
        try:
            yield client
        finally:
            await client.flushdb()
