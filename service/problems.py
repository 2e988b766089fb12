"""The one place errors become HTTP answers: RFC 9457 `application/problem+json`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ffgate.errors import (
    BadRequest,
    FfgateError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
)
from ffgate.logs import current_request_id
from service.compat_errors import compat_body, surface_of
from service.response_headers import rate_limit_headers

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


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
    if exc.rate_limit is not None:
        headers |= rate_limit_headers(exc.rate_limit)
    return JSONResponse(body, status_code=exc.status, headers=headers, media_type=PROBLEM_JSON)


def _validation_errors(exc: RequestValidationError) -> FfgateError:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return BadRequest("The request body is not valid JSON.")
    items = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in errors]
    fields = ", ".join(".".join(str(p) for p in i["loc"][1:]) or "body" for i in items)
    return Unprocessable(f"Invalid request: {fields}", errors=items)


def _from_http_exception(exc: StarletteHTTPException) -> FfgateError:
    if exc.status_code == 404:
        return NotFound("No such resource.")
    if exc.status_code == 405:
        error: FfgateError = MethodNotAllowed("This method is not allowed here.")
        if exc.headers and "allow" in {k.lower() for k in exc.headers}:
            error.headers.update(exc.headers)
        return error
    error = FfgateError(str(exc.detail))
    error.status, error.title = exc.status_code, str(exc.detail)
    return error


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
        return error_response(_from_http_exception(exc), request.url.path)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if _is_redis_error(exc):
            log.error("Redis unavailable: %s", type(exc).__name__)
            return error_response(
                ServiceUnavailable("A backing service is unavailable; try again shortly."), request.url.path
            )
        log.exception("unhandled error")
        return error_response(FfgateError("An unexpected error occurred."), request.url.path)

    app.add_exception_handler(FfgateError, on_ffgate)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


def _is_redis_error(exc: Exception) -> bool:
    import redis.exceptions

    return isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError)
