"""Typed access to what the lifespan opened, and the auth dependencies routes declare."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ffgate.clients.access_tokens import AccessTokens, authenticate_bearer
from ffgate.clients.api_keys import ApiKeys
from ffgate.clients.authentication import Credentials, Principal, authenticate
from ffgate.clients.store import ClientStore
from ffgate.generations.admission import SCOPE as SUBMIT_SCOPE
from ffgate.generations.admission import Admission
from ffgate.generations.changefeed import ChangeFeed
from ffgate.redis.outage import RedisOutage
from ffgate.upstream.catalogue import ModelCatalog
from ffgate.upstream.model_records import ModelRecords
from ffgate.wiring import Connections
from service.response_headers import add_rate_limit_headers
from service.shutdown import Shutdown


@dataclass
class Runtime(Connections):
    """Everything a request may need, opened once per process by the lifespan."""

    models: ModelCatalog | None  # None until the Adobe credential is configured
    feed: ChangeFeed
    api_keys: ApiKeys
    clients: ClientStore
    admission: Admission
    redis_outage: RedisOutage  # logs an outage once, not per request
    shutdown: Shutdown  # SIGTERM: draining, then waits answered and streams ended
    model_records: ModelRecords
    access_tokens: AccessTokens


async def _runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, on every request.
    runtime: Runtime = request.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


_bearer = HTTPBearer(auto_error=False, description="An ffgate API key.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _credentials(runtime: RuntimeDep, bearer: BearerDep) -> Credentials:
    return Credentials.of(runtime.settings.admin_key, bearer.credentials if bearer else None)


async def request_credentials(request: Request, runtime: Runtime) -> Credentials:
    """The credentials of a request, for a route whose key is optional (a signed link may stand in)."""
    return await _credentials(runtime, await _bearer(request))


def requires(scope: str) -> Callable[..., Awaitable[Principal]]:
    """Authenticate the caller, count the request against its rate limit, then check its scope."""

    async def dependency(
        request: Request, runtime: RuntimeDep, credentials: Annotated[Credentials, Depends(_credentials)]
    ) -> Principal:
        principal = await authenticate(runtime.api_keys, credentials, scope)
        add_rate_limit_headers(principal.rate)
        request.state.principal = principal
        return principal

    return dependency


def requires_bearer(scope: str) -> Callable[..., Awaitable[Principal]]:
    """As `requires`, for the Firefly-compatible routes: the bearer is an API key or a token from their
    `/ims/token`."""

    async def dependency(request: Request, runtime: RuntimeDep, bearer: BearerDep) -> Principal:
        principal = await authenticate_bearer(
            runtime.api_keys,
            runtime.access_tokens,
            runtime.settings.admin_key,
            bearer.credentials if bearer else None,
            scope,
        )
        add_rate_limit_headers(principal.rate)
        request.state.principal = principal
        return principal

    return dependency


ModelsReader = Annotated[Principal, Depends(requires("models:read"))]
Generator = Annotated[Principal, Depends(requires("generate"))]
Admin = Annotated[Principal, Depends(requires("admin"))]


@dataclass(frozen=True)
class Submission:
    runtime: Runtime
    credentials: Credentials


async def _submission(request: Request, bearer: BearerDep) -> Submission:
    # Runtime and credentials in one dependency rather than two more: FastAPI's dependency solving is a
    # fifth of a submit's CPU, and this is the API's hot path.
    runtime = await _runtime(request)
    return Submission(runtime, await _credentials(runtime, bearer))


# A submit's key is looked up by the script that writes the job (ffgate.generations.admission): one round
# trip.
Submitter = Annotated[Submission, Depends(_submission)]


class AuthenticatedFirst(APIRoute):
    """For routes whose dependencies may leave authentication to the route itself (`Submitter`): a request
    that FastAPI refuses (422) before the route runs is authenticated then, for `scope`, so that 401, 403
    and 429 still come before 422 and the request still counts against the caller's rate limit, as on every
    other route. (Routes that authenticated in a dependency already are left alone.)"""

    scope = SUBMIT_SCOPE

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError:
                if getattr(request.state, "principal", None) is None:
                    runtime = await _runtime(request)
                    credentials = await _credentials(runtime, await _bearer(request))
                    add_rate_limit_headers(
                        (await authenticate(runtime.api_keys, credentials, self.scope)).rate
                    )
                raise

        return route


def absolute_base(request: Request, runtime: Runtime) -> str:
    """The gateway's own base URL for links clients follow as given (Firefly's statusUrl, OpenAI's image
    URLs): FFGATE_PUBLIC_BASE_URL, else the URL this request came to."""
    return (runtime.settings.public_base_url or str(request.base_url)).rstrip("/")
