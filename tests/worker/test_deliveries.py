"""A webhook whose body cannot be built (worker/deliveries.py): one failed attempt recorded, never retried."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis

from tests.admitting import AdmittingStore
from tests.redis_db import make_settings
from worker.context import open_context
from worker.deliveries import deliver

pytestmark = pytest.mark.anyio


async def test_a_webhook_that_cannot_be_built_is_a_final_failed_attempt(redis: aioredis.Redis) -> None:
    ctx = open_context(make_settings())
    try:
        store = AdmittingStore(ctx.redis, ctx.keys, 600)
        await store.create(
            gen_id="gen_broken",
            client_id="cl_1",
            request_id="req-1",
            request={"prompt": "p", "customModelId": "m"},
            metadata=None,
            warnings=[],
            webhook={"url": "http://127.0.0.1:9/hook", "events": ["generation.queued"]},
        )
        # An output no Generation can show (a record corrupted, or written by another version).
        await ctx.redis.hset(ctx.keys.generation("gen_broken"), "outputs", json.dumps([{"image": 5}]))
        webhook_id = "msg_gen_broken_1"
        assert await ctx.redis.zscore(ctx.keys.schedule, f"deliver:{webhook_id}") is not None

        await deliver(ctx, webhook_id)

        [attempt] = await ctx.deliveries.attempts("gen_broken")
        assert attempt["attempt"] == 1
        assert attempt["statusCode"] is None
        assert attempt["error"].startswith("the webhook body could not be built")
        assert attempt["nextAttemptAt"] is None
        assert await ctx.redis.zscore(ctx.keys.schedule, f"deliver:{webhook_id}") is None
    finally:
        await ctx.aclose()
