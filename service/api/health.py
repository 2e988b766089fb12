"""Liveness, readiness and metrics (no auth)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.deps import RuntimeDep
from service.errors import ServiceUnavailable, UpstreamError
from service.schemas import Health, problem_responses

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
async def healthz() -> Health:
    """200 while the process runs."""
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="readyz",
    responses=problem_responses(503),
)
async def readyz(runtime: RuntimeDep) -> Health:
    """200 when Redis answers and the Adobe credential yields an IMS token; 503 otherwise."""
    try:
        await runtime.redis.ping()
    except Exception as exc:
        raise ServiceUnavailable(f"Redis does not answer ({type(exc).__name__}).") from None
    if runtime.firefly is None:
        raise ServiceUnavailable("FFGATE_ADOBE_CLIENT_ID / FFGATE_ADOBE_CLIENT_SECRET are not set.")
    try:
        await runtime.firefly.tokens.get()
    except UpstreamError as exc:
        raise ServiceUnavailable(f"The Adobe credential is not usable: {exc.detail}") from None
    return Health(status="ok")


@router.get("/metrics", operation_id="metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
