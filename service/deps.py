"""Typed access to what the lifespan opened, and the auth dependencies routes declare."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api_clients import ClientStore
from service.auth import Principal, authenticate
from service.connections import Connections
from service.events import ChangeFeed
from service.middleware import add_response_headers
from service.models import ModelCatalog


@dataclass
class Runtime(Connections):
    """Everything a request may need, opened once per process by the lifespan."""

    models: ModelCatalog | None  # None until the Adobe credential is configured
    feed: ChangeFeed
    clients: ClientStore


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


_bearer = HTTPBearer(auto_error=False, description="An ffgate API key.")


def requires(scope: str) -> Callable[..., Awaitable[Principal]]:
    """Authenticate the caller, count the request against its rate limit, then check its scope."""

    async def dependency(
        runtime: RuntimeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal:
        key = credentials.credentials if credentials else None
        principal = await authenticate(runtime.settings.admin_key, runtime.clients, key)
        if principal.rate is not None:
            add_response_headers(principal.rate.headers())
        principal.require(scope)
        return principal

    return dependency


ModelsReader = Annotated[Principal, Depends(requires("models:read"))]
Generator = Annotated[Principal, Depends(requires("generate"))]
Admin = Annotated[Principal, Depends(requires("admin"))]
