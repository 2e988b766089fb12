"""What a worker process holds open: one event loop thread with its Redis pool, HTTP client and Firefly
client. RQ job functions (sync, on the main thread) run their async work on that loop, so the gateway and the
worker share one implementation of every upstream call and of the token custody."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import uvloop

from ffgate.budget.fair_queue import FairQueue
from ffgate.config import Settings
from ffgate.errors import UpstreamAuthError
from ffgate.redis.outage import RedisOutage
from ffgate.upstream.firefly import Firefly
from ffgate.webhooks.connections import webhook_client
from ffgate.wiring import Connections
from worker.poll_plan import PollPlanner

T = TypeVar("T")


@dataclass
class WorkerContext(Connections):
    firefly: Firefly
    fairqueue: FairQueue
    planner: PollPlanner
    webhook_http: httpx.AsyncClient  # its own pool and timeouts: receivers are not Firefly
    redis_outage: RedisOutage  # the loops' Redis errors, logged once per outage

    async def aclose(self) -> None:
        await self.redis_outage.aclose()
        await self.webhook_http.aclose()
        await super().aclose()


def open_context(settings: Settings) -> WorkerContext:
    """Must run on the loop that will use it (redis.asyncio and httpx bind to the running loop)."""
    conns = Connections.open(
        settings,
        http_connections=settings.submit_concurrency + 2,  # + IMS token fetches
        status_connections=settings.poll_concurrency,
        redis_connections=settings.submit_concurrency
        + settings.poll_concurrency
        + settings.delivery_concurrency
        + 32,
    )
    if conns.firefly is None or conns.fairqueue is None:
        raise UpstreamAuthError("FFGATE_ADOBE_CLIENT_ID and FFGATE_ADOBE_CLIENT_SECRET are not set")
    webhook_http = webhook_client(
        settings.webhook_allowed_cidrs,
        timeout_s=settings.webhook_timeout_s,
        max_connections=settings.delivery_concurrency,
    )
    return WorkerContext(
        **(vars(conns) | {"firefly": conns.firefly, "fairqueue": conns.fairqueue}),
        planner=PollPlanner(settings),
        webhook_http=webhook_http,
        redis_outage=RedisOutage(
            conns.redis,
            "the worker's loops wait for it (what Firefly answered meanwhile is held)",
            start_level=logging.WARNING,
            end_level=logging.INFO,
        ),
    )


class LoopThread:
    """A daemon thread running one asyncio loop; `run` executes a coroutine there and waits for it.

    The loop is uvloop's, as the gateway's is: the worker's loop thread does all of its HTTP and Redis I/O
    (polls, submits, output copies of megabytes each), and uvloop's transports cost it far less CPU per
    read and write than asyncio's selector loop (measured in bench/mirror.py)."""

    def __init__(self) -> None:
        self.loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="ffgate-loop", daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self.submit(coro).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
