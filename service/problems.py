"""The one place errors become HTTP answers: RFC 9457 `application/problem+json`."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ffgate.errors import (
    FfgateError,
    MalformedJson,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
)
from ffgate.logs import current_request_id
from ffgate.redis.outage import REDIS_ERRORS
from service.compat_errors import compat_body, surface_of
from service.response_headers import rate_limit_headers

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_S = 2  # a 503 that knows no better: Redis or Firefly away, usually for seconds


def error_response(exc: FfgateError, path: str) -> JSONResponse:
    """`exc` answered in the shape of the surface `path` belongs to (service.compat_errors)."""
    surface = surface_of(path)
    if surface == "problem":
        return problem_response(exc)
    status, body = compat_body(surface, exc)
    headers = {**exc.headers, "X-Request-ID": current_request_id()}
    if exc.rate_limit is not None:
        headers |= rate_limit_headers(exc.rate_limit)
    return JSONResponse(body, status_code=status, headers=headers)


def problem_response(exc: FfgateError) -> JSONResponse:
    request_id = current_request_id()
    body: dict[str, Any] = {
        "type": exc.type,
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
        "requestId": request_id,
    }
    if exc.errors is not None:
        body["errors"] = exc.errors
    headers = {**exc.headers, "X-Request-ID": request_id}
    if exc.status in (429, 503) and "Retry-After" not in headers:  # every 429 and 503 says when to retry
        wait_s = getattr(exc, "retry_after_s", RETRY_AFTER_S)
        headers["Retry-After"] = str(max(1, math.ceil(wait_s)))
    if exc.rate_limit is not None:
        headers |= rate_limit_headers(exc.rate_limit)
    return JSONResponse(body, status_code=exc.status, headers=headers, media_type=PROBLEM_JSON)


def _validation_errors(exc: RequestValidationError) -> FfgateError:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return MalformedJson("The request body is not valid JSON.")
    items = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in errors]
    fields = ", ".join(".".join(str(p) for p in i["loc"][1:]) or "body" for i in items)
    return Unprocessable(f"Invalid request: {fields}", errors=items)


def _from_http_exception(exc: StarletteHTTPException, request: Request) -> FfgateError:
    if exc.status_code == 400:  # FastAPI's answer to a body json.loads cannot take: bad UTF-8, too deep
        return MalformedJson("The request body is not JSON: invalid UTF-8 or nested too deeply.")
    if exc.status_code == 404:
        return NotFound("No such resource.")
    if exc.status_code == 405:
        error: FfgateError = MethodNotAllowed("This method is not allowed here.")
        error.headers["Allow"] = ", ".join(allowed_methods(request))
        return error
    error = FfgateError(str(exc.detail))
    error.status, error.title = exc.status_code, str(exc.detail)
    return error


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path (Starlette's 405 names only the first route's). Asked
    of each route through `matches`, which included routers answer too."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]


def add_exception_handlers(app: FastAPI) -> None:
    async def on_ffgate(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, FfgateError)
        if exc.status >= 500:
            log.warning("answered %s: %s", exc.status, exc.detail)
        return error_response(exc, request.url.path)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(_validation_errors(exc), request.url.path)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(_from_http_exception(exc, request), request.url.path)

    async def on_redis(request: Request, exc: Exception) -> JSONResponse:
        # Handled here, not by the catch-all: Starlette re-raises what reaches that one after answering, so
        # uvicorn would log a traceback per request and drop the keep-alive connection.
        runtime = getattr(request.state, "runtime", None)
        if runtime is not None:
            runtime.redis_outage.failed(exc)
        unavailable = ServiceUnavailable("A backing service is unavailable; try again shortly.")
        return error_response(unavailable, request.url.path)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(FfgateError("An unexpected error occurred."), request.url.path)

    app.add_exception_handler(FfgateError, on_ffgate)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    for redis_error in REDIS_ERRORS:
        app.add_exception_handler(redis_error, on_redis)
    app.add_exception_handler(Exception, on_unexpected)
