"""The gateway: app factory, lifespan (one Redis pool, one HTTP client, one change feed) and `serve`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ffgate.clients.access_tokens import AccessTokens
from ffgate.clients.api_keys import ApiKeys, pepper_from
from ffgate.clients.store import ClientStore
from ffgate.config import Settings
from ffgate.generations.admission import Admission
from ffgate.generations.changefeed import ChangeFeed
from ffgate.logs import configure_logging
from ffgate.metrics import metrics_directory
from ffgate.redis.outage import RedisOutage
from ffgate.upstream.catalogue import ModelCatalog
from ffgate.upstream.model_records import ModelRecords
from ffgate.wiring import Connections
from service.deps import Runtime
from service.middleware import Metrics, RequestContext
from service.openapi_doc import complete
from service.openapi_examples import EXAMPLES
from service.problems import add_exception_handlers
from service.routes import (
    clients,
    console,
    firefly_compat,
    generations,
    health,
    ims_compat,
    model_records,
    models,
    openai_compat,
    operations,
    outputs,
)
from service.server import run_draining, run_http
from service.shutdown import Shutdown, drain_on_sigterm

DESCRIPTION = (
    "ffgate holds the Adobe Firefly Services credential for the whole company: internal services ask it "
    "for custom-model image generations with their own API key, and it queues them within the Adobe org's "
    "limits, polls Firefly, and keeps the results."
)


def open_runtime(settings: Settings, shutdown: Shutdown | None = None) -> Runtime:
    conns = Connections.open(
        settings,
        http_connections=64,
        redis_connections=256,
        redis_retry_for_s=settings.gateway_redis_retry_for_s,
    )
    firefly = conns.firefly
    api_keys = ApiKeys(conns.redis, conns.keys, pepper_from(settings))
    return Runtime(
        **vars(conns),
        models=ModelCatalog(conns.redis, conns.keys, firefly, settings.models_cache_ttl_s)
        if firefly
        else None,
        feed=ChangeFeed(conns.redis, conns.keys),
        api_keys=api_keys,
        clients=ClientStore(conns.redis, conns.keys, api_keys),
        admission=Admission(conns.redis, conns.keys, api_keys, settings.result_ttl_s),
        redis_outage=RedisOutage(conns.redis),
        shutdown=shutdown or Shutdown(),
        model_records=ModelRecords(conns.redis, conns.keys),
        access_tokens=AccessTokens(conns.redis, conns.keys, api_keys, settings.access_token_ttl_s),
    )


def create_app(settings: Settings) -> FastAPI:
    shutdown = Shutdown()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        runtime = open_runtime(settings, shutdown)
        await runtime.feed.start()
        await runtime.api_keys.announce_pepper()
        try:
            yield {"runtime": runtime}
        finally:
            shutdown.draining = True
            await runtime.feed.stop()
            await runtime.redis_outage.aclose()
            await runtime.aclose()

    app = FastAPI(
        title="ffgate",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.shutdown = shutdown
    add_exception_handlers(app)
    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(Metrics)
    # Routes are tried in order: generations first, the hot path (no two routers share a path).
    app.include_router(generations.router)
    app.include_router(outputs.router)
    app.include_router(health.router)
    app.include_router(models.router)
    app.include_router(clients.router)
    app.include_router(model_records.router)
    app.include_router(firefly_compat.router)
    app.include_router(ims_compat.router)
    app.include_router(openai_compat.router)
    app.include_router(operations.router)
    app.include_router(console.router)
    _document_contract(app)
    return app


def _document_contract(app: FastAPI) -> None:
    """Serve the contract as it is (service.openapi_doc), not FastAPI's defaults."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            app.openapi_schema = complete(schema, EXAMPLES)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Serve the gateway; with `workers` > 1, in that many processes on one port (uvicorn's workers, each
    building its Settings from the same environment), whose metrics go through one multiprocess
    directory (ffgate.metrics) so that a scrape of any of them counts all of them."""
    configure_logging(settings.log_level, "gateway", settings.log_format)
    options: dict[str, Any] = {"log_config": None, "timeout_graceful_shutdown": settings.gateway_grace_s}
    if workers == 1:
        app = create_app(settings)
        run_draining(app, host, port, app.state.shutdown, settings.gateway_drain_s, **options)
        return
    # uvicorn's own supervisor runs N processes; on its SIGTERM it sends each one a SIGTERM and waits for all,
    # and each drains first (from_environment).
    with metrics_directory():
        run_http(f"{__name__}:from_environment", host, port, factory=True, workers=workers, **options)


def from_environment() -> FastAPI:
    """The app of one of `serve`'s worker processes, loaded by uvicorn's own server on its serving loop:
    its SIGTERM drains as a single gateway's does (service.shutdown)."""
    settings = Settings()
    configure_logging(settings.log_level, "gateway", settings.log_format)
    app = create_app(settings)
    drain_on_sigterm(app.state.shutdown, settings.gateway_drain_s)
    return app
