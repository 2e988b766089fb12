"""The worker's port: /healthz follows its scheduler loop, /readyz its Redis, /metrics the exposition."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.redis_db import make_settings
from worker.metrics_server import STUCK_AFTER_S, MetricsServer

pytestmark = pytest.mark.anyio


async def serve(ctx: Any, turn: list[float | None]) -> tuple[MetricsServer, str]:
    server = MetricsServer(ctx, lambda: turn[0])
    port = await server.start("127.0.0.1", 0)
    return server, f"http://127.0.0.1:{port}"


async def test_health_follows_the_loop_and_readiness_redis(redis: aioredis.Redis) -> None:
    turn: list[float | None] = [time.monotonic()]
    ctx = SimpleNamespace(redis=redis, settings=make_settings(), fairqueue=None)
    server, url = await serve(ctx, turn)
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            assert (await http.get("/readyz")).json() == {"status": "ok"}
            metrics = await http.get("/metrics")
            assert metrics.status_code == 200
            assert "ffgate_generations_finished_total" in metrics.text
            turn[0] = time.monotonic() - STUCK_AFTER_S - 1
            stuck = await http.get("/healthz")
            assert stuck.status_code == 503 and "came round" in stuck.json()["detail"]
            turn[0] = None
            stopped = await http.get("/healthz")
            assert stopped.status_code == 503 and "stopped" in stopped.json()["detail"]
            assert (await http.get("/nothing")).status_code == 404
            assert (await http.post("/metrics")).status_code == 405
            assert (await http.head("/readyz")).status_code == 200
    finally:
        await server.stop()


async def test_readiness_fails_fast_without_redis() -> None:
    nowhere = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    ctx = SimpleNamespace(redis=nowhere, settings=make_settings(redis_timeout_s=0.5), fairqueue=None)
    server, url = await serve(ctx, [time.monotonic()])
    try:
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 503 and "Redis" in ready.json()["detail"]
        assert time.monotonic() - started < 2
    finally:
        await server.stop()
        await nowhere.aclose()
