"""Typed access to what the lifespan opened, and the auth dependencies routes declare."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth import Principal, authenticate
from service.connections import Connections
from service.events import ChangeFeed
from service.models import ModelCatalog


@dataclass
class Runtime(Connections):
    """Everything a request may need, opened once per process by the lifespan."""

    models: ModelCatalog | None  # None until the Adobe credential is configured
    feed: ChangeFeed


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


_bearer = HTTPBearer(auto_error=False, description="An ffgate API key.")


def requires(scope: str) -> Callable[..., Principal]:
    def dependency(
        runtime: RuntimeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal:
        principal = authenticate(runtime.settings, credentials.credentials if credentials else None)
        principal.require(scope)
        return principal

    return dependency


ModelsReader = Annotated[Principal, Depends(requires("models:read"))]
Generator = Annotated[Principal, Depends(requires("generate"))]
