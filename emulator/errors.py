"""Error bodies, one envelope per upstream endpoint family (firefly-api.md §5.1), and the exception that
carries a finished error response out of a dependency.

    token                     -> OAuth2      {"error", "error_description"}
    models                    -> ErrorResponse {"reason", "message"}
    generate, status, cancel  -> ApiError    {"error_code", "message"}
    output images             -> S3 XML      <Error><Code/><Message/></Error>

A path nothing answers (404) or a method a path does not take (405, with `Allow`) gets the envelope of the
family its path belongs to (`unmatched`), never FastAPI's `{"detail"}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Literal

from fastapi.responses import JSONResponse, Response

from emulator.images import s3_error_xml

Endpoint = Literal["token", "models", "generate", "status", "cancel"]
ENDPOINTS: tuple[Endpoint, ...] = ("token", "models", "generate", "status", "cancel")

# Codes and messages Adobe documents, where it documents any; the rest follow the same style.
_API_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad Request"),
    401: ("401013", "Oauth token is not valid"),
    403: ("access_error", "Forbidden"),
    404: ("not_found", "Not Found"),
    408: ("timeout_error", "Request Timeout"),
    409: ("conflict", "Conflict"),
    415: ("invalid_content_type", "Unsupported Media Type"),
    422: ("validation_error", "Unprocessable Entity"),
    429: ("rate_limited", "Too Many Requests"),
    500: ("runtime_error", "Internal Server Error"),
    502: ("bad_gateway", "Bad Gateway"),
    503: ("service_unavailable", "Service Unavailable"),
    504: ("timeout_error", "Gateway Timeout"),
}
_MODELS_MESSAGES: dict[int, str] = {
    400: "The request is invalid.",
    401: "Authorization Token is not accepted.",
    403: "API Key is not accepted.",
    406: "The requested format is not supported by this method.",
    429: "Too many requests; retry later.",
    500: "A problem occurred on our server.",
    503: "We are temporarily offline for maintenance. Try again later.",
}
_OAUTH_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request", "The request is invalid."),
    401: ("invalid_client", "invalid client_id or client_secret"),
    429: ("too_many_requests", "Too many requests; retry later."),
    500: ("internal_error", "Please try again later"),
    503: ("temporarily_unavailable", "Please try again later"),
}


class Rejected(Exception):
    """Raised anywhere in a request to answer with `response` instead of the route's result."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def api_error(
    status: int,
    code: str | None = None,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    default_code, default_message = _API_ERRORS.get(status, (_phrase(status).lower().replace(" ", "_"), ""))
    body = {"error_code": code or default_code, "message": message or default_message or _phrase(status)}
    return JSONResponse({**body, **extra}, status_code=status, headers=headers)


def models_error(
    status: int, message: str | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {"reason": _phrase(status), "message": message or _MODELS_MESSAGES.get(status, _phrase(status))}
    return JSONResponse(body, status_code=status, headers=headers)


def oauth_error(
    status: int,
    error: str | None = None,
    description: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    default_error, default_description = _OAUTH_ERRORS.get(status, ("server_error", _phrase(status)))
    body = {"error": error or default_error, "error_description": description or default_description}
    return JSONResponse(body, status_code=status, headers=headers)


def endpoint_error(endpoint: Endpoint, status: int, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The default error body `endpoint` answers `status` with (used by scripted faults)."""
    if endpoint == "token":
        return oauth_error(status, headers=headers)
    if endpoint == "models":
        return models_error(status, headers=headers)
    if status == 404 and endpoint in ("status", "cancel"):
        return api_error(404, "unknown_job_id", "The job id is unknown.", headers=headers)
    return api_error(status, headers=headers)


_UNMATCHED: dict[int, tuple[str, str, str, str]] = {
    # status: (code, message, S3 code, S3 message)
    404: ("not_found", "Resource not found", "NoSuchKey", "The specified key does not exist."),
    405: (
        "method_not_allowed",
        "Method Not Allowed",
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
    ),
}


def unmatched(path: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
    """The answer to a request no route takes (`status` 404 or 405), in its path's family's envelope."""
    code, message, s3_code, s3_message = _UNMATCHED.get(
        status,
        (_phrase(status).lower().replace(" ", "_"), _phrase(status), "InvalidRequest", _phrase(status)),
    )
    if path == "/ims" or path.startswith("/ims/"):
        return oauth_error(status, code, message, headers=headers)
    if path == "/v3/custom-models" or path.startswith("/v3/custom-models/"):
        return models_error(status, message, headers=headers)
    if path.startswith("/images/"):
        body = s3_error_xml(s3_code, s3_message)
        return Response(body, status_code=status, media_type="application/xml", headers=headers)
    return api_error(status, code, message, headers=headers)
