"""Liveness, readiness and metrics (no auth)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from fastapi import APIRouter, Response

from ffgate import metrics as exported
from ffgate.budget.breaker import BreakerState
from ffgate.errors import ServiceUnavailable
from service.deps import RuntimeDep
from service.schemas import Health, problem_responses

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz", response_model_exclude_none=True)
async def healthz() -> Health:
    """200 while the process runs."""
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model_exclude_none=True,
    responses=problem_responses(503),
)
async def readyz(runtime: RuntimeDep) -> Health:
    """200 when this gateway can take work: Redis answers, an IMS token is at hand or obtainable (from
    what the process knows: no call to Adobe per probe), and it is not shutting down; 503 otherwise.

    While the circuit breaker holds submits back (Firefly kept failing), the answer is still 200, with
    `status: degraded` and a `detail`: the gateway keeps queueing jobs, which is what it should be routed
    to do, and they are sent once Firefly recovers."""
    if runtime.shutdown.draining:
        raise ServiceUnavailable("The gateway is stopping; send requests to another one.")
    try:
        await asyncio.wait_for(runtime.redis.ping(), runtime.settings.redis_timeout_s)  # no retries
    except Exception as exc:
        raise ServiceUnavailable(f"Redis does not answer ({type(exc).__name__}).") from None
    if runtime.firefly is None:
        raise ServiceUnavailable("FFGATE_ADOBE_CLIENT_ID / FFGATE_ADOBE_CLIENT_SECRET are not set.")
    if reason := await runtime.firefly.tokens.unusable():
        raise ServiceUnavailable(f"The Adobe credential is not usable: {reason}.")
    breaker = await runtime.fairqueue.breaker.read() if runtime.fairqueue else None
    if breaker is not None:
        return Health(status="degraded", detail=describe(breaker, time.time()))
    return Health(status="ok")


def describe(breaker: BreakerState, now: float) -> str:
    since = datetime.fromtimestamp(breaker.opened_at, UTC).isoformat(timespec="seconds")
    if breaker.probing:
        state = "a probe is being sent to Firefly"
    elif now < breaker.open_until:
        state = f"the next probe goes in {breaker.open_until - now:.0f}s"
    else:
        state = "the next submit is a probe"
    return (
        f"Circuit breaker open since {since.replace('+00:00', 'Z')} after failed submits "
        f"({breaker.reason}); jobs stay queued, {state}."
    )


@router.get(
    "/metrics",
    operation_id="metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text format: this gateway's counters (all of its processes' under `--workers N`) and the
    shared state (queues, budget, breaker) read from Redis now."""
    body = exported.render(await exported.cluster_state(runtime.fairqueue))
    return Response(body, media_type=exported.CONTENT_TYPE_LATEST)
