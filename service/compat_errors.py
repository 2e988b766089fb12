"""The error bodies of the compatible surfaces, for service.problems (the one place errors become answers),
which picks them by path:

    /ims/...                    OAuth 2.0, as Adobe IMS: {"error", "error_description"}
    /v3/custom-models           Firefly's ErrorResponse: {"reason", "message"}
    /v3/...                     Firefly's ApiError: {"error_code", "message", "validation_errors"?}
    /v1/images/..., /v1/models  OpenAI's: {"error": {"message", "type", "param", "code"}}

Everything else is problem+json. Status codes stay ours, except that OpenAI answers an invalid request with
400 where we say 422.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Literal

from ffgate.errors import FfgateError, QuotaExceeded

Surface = Literal["problem", "oauth", "firefly-models", "firefly", "openai"]

_OAUTH_CODES = {400: "invalid_request", 401: "invalid_client", 429: "too_many_requests"}
_FIREFLY_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "access_error",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    415: "invalid_content_type",
    422: "validation_error",
    429: "rate_limited",
    500: "runtime_error",
    503: "service_unavailable",
}
_OPENAI_TYPES = {
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "insufficient_permissions"),
    404: ("invalid_request_error", "not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def surface_of(path: str) -> Surface:
    if path.startswith("/ims/"):
        return "oauth"
    if path == "/v3/custom-models" or path.startswith("/v3/custom-models/"):
        return "firefly-models"
    if path.startswith("/v3/"):
        return "firefly"
    if path.startswith("/v1/images/") or path == "/v1/models" or path.startswith("/v1/models/"):
        return "openai"
    return "problem"


def _own_code(exc: FfgateError) -> str | None:
    """The code the raiser gave, if it gave one (not just the problem slug)."""
    return exc.code if exc.code != exc.slug else None


def oauth_body(exc: FfgateError) -> dict[str, Any]:
    code = _own_code(exc) or _OAUTH_CODES.get(
        exc.status, "server_error" if exc.status >= 500 else "invalid_request"
    )
    return {"error": code, "error_description": exc.detail}


def firefly_models_body(exc: FfgateError) -> dict[str, Any]:
    return {"reason": HTTPStatus(exc.status).phrase, "message": exc.detail}


def firefly_body(exc: FfgateError) -> dict[str, Any]:
    code = _own_code(exc) or _FIREFLY_CODES.get(
        exc.status, "runtime_error" if exc.status >= 500 else "bad_request"
    )
    body: dict[str, Any] = {"error_code": code, "message": exc.detail}
    if exc.errors is not None:
        body["validation_errors"] = [
            {"loc": e.get("loc", []), "msg": e.get("msg", ""), "type": e.get("type", "value_error")}
            for e in exc.errors
        ]
    return body


def openai_status(exc: FfgateError) -> int:
    return 400 if exc.status == 422 else exc.status


def openai_body(exc: FfgateError) -> dict[str, Any]:
    if isinstance(exc, QuotaExceeded):
        kind, code = "insufficient_quota", "insufficient_quota"
    elif exc.status in _OPENAI_TYPES:
        kind, code = _OPENAI_TYPES[exc.status]
    elif exc.status >= 500:
        kind, code = "server_error", "server_error"
    else:
        kind, code = "invalid_request_error", "invalid_request"
    param = None
    if exc.errors:
        loc = [str(part) for part in exc.errors[0].get("loc", []) if part not in ("body", "query", "header")]
        param = ".".join(loc) or None
    return {"error": {"message": exc.detail, "type": kind, "param": param, "code": _own_code(exc) or code}}


def compat_body(surface: Surface, exc: FfgateError) -> tuple[int, dict[str, Any]]:
    """The status and body of `exc` on a compatible surface (not "problem")."""
    if surface == "oauth":
        return exc.status, oauth_body(exc)
    if surface == "firefly-models":
        return exc.status, firefly_models_body(exc)
    if surface == "firefly":
        return exc.status, firefly_body(exc)
    return openai_status(exc), openai_body(exc)
