"""The one exception tree of ffgate, shared by the gateway and the worker.

    FfgateError                      500  anything we raise on purpose
    ├── BadRequest                   400
    │   └── MalformedJson            400  a body that is not JSON: invalid UTF-8, bad syntax, nested too deep
    ├── Unauthorized                 401  missing / unknown / revoked key
    ├── Forbidden                    403  key without the needed scope
    ├── NotFound                     404  unknown route or resource (also others' resources)
    │   └── ObjectNotFound           404  no object under that key in the output store
    ├── MethodNotAllowed             405
    ├── Conflict                     409  e.g. cancel of a finished job
    ├── Gone                         410  an output whose copy failed after Firefly's URL expired
    ├── PayloadTooLarge              413
    ├── RangeNotSatisfiable          416  a byte range that starts past the end of a stored object
    ├── UnsupportedMediaType         415
    ├── Unprocessable                422  validation, with `errors`
    ├── RateLimited                  429  with Retry-After: the client's request rate limit
    │   └── QuotaExceeded            429  the client's daily image quota (its own problem type)
    ├── ServiceUnavailable           503  Redis or another dependency is down
    │   └── StorageUnavailable       503  with Retry-After: the output store is down, full or refuses us
    └── UpstreamError                502  Firefly / IMS answered badly (carries what Firefly said)
        ├── UpstreamRejected         4xx from Firefly: the request itself was refused; not retryable
        ├── UpstreamAuthError        IMS refused our credentials
        ├── UpstreamRateLimited      429 from Firefly, with the time to wait
        ├── UpstreamUnavailable      5xx, or the request never reached Firefly; retryable
        └── UpstreamTimeout          no answer in time: whether Firefly acted is unknown

Every error maps to `application/problem+json` in `service.problems`, and nowhere else (or, on the Firefly-
and OpenAI-compatible surfaces, to those APIs' own error bodies, chosen there too). An error raised
once the caller is known carries the caller's request-rate state (`rate_limit`), which the HTTP layer turns
into `RateLimit-*` headers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ffgate.clients.rate_limit import RateLimitState


class FfgateError(Exception):
    status = 500
    slug = "internal-error"
    title = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        # A machine-readable code, for the answers whose bodies carry one (Firefly's `error_code` on the
        # compatible surface, what Firefly itself said for upstream errors); the slug unless given.
        self.code = code or self.slug
        self.headers: dict[str, str] = {}
        self.rate_limit: RateLimitState | None = None

    def for_caller(self, rate_limit: RateLimitState | None) -> FfgateError:
        """This error, as the answer to a caller whose request left its rate window in `rate_limit`."""
        self.rate_limit = rate_limit
        return self

    @property
    def type(self) -> str:
        return f"urn:ffgate:problem:{self.slug}"


class BadRequest(FfgateError):
    status, slug, title = 400, "bad-request", "Bad Request"


class MalformedJson(BadRequest):
    slug, title = "malformed-json", "Malformed JSON"


class Unauthorized(FfgateError):
    status, slug, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail, errors=errors)
        self.headers["WWW-Authenticate"] = "Bearer"  # RFC 9110 11.6.1: every 401 names its scheme


class Forbidden(FfgateError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(FfgateError):
    status, slug, title = 404, "not-found", "Not Found"


class ObjectNotFound(NotFound):
    """The key is well formed but nothing is stored under it (never stored, deleted or swept)."""


class MethodNotAllowed(FfgateError):
    status, slug, title = 405, "method-not-allowed", "Method Not Allowed"


class Conflict(FfgateError):
    status, slug, title = 409, "conflict", "Conflict"


class Gone(FfgateError):
    status, slug, title = 410, "gone", "Gone"


class PayloadTooLarge(FfgateError):
    status, slug, title = 413, "payload-too-large", "Content Too Large"


class RangeNotSatisfiable(FfgateError):
    status, slug, title = 416, "range-not-satisfiable", "Range Not Satisfiable"

    def __init__(self, detail: str | None = None, *, size: int) -> None:
        super().__init__(detail)
        self.size = size
        self.headers["Content-Range"] = f"bytes */{size}"  # RFC 9110 15.5.17: the current length


class UnsupportedMediaType(FfgateError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported Media Type"


class Unprocessable(FfgateError):
    status, slug, title = 422, "validation-error", "Unprocessable Content"


class RateLimited(FfgateError):
    status, slug, title = 429, "rate-limited", "Too Many Requests"

    def __init__(self, detail: str | None = None, *, retry_after_s: float) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s
        self.headers["Retry-After"] = str(max(1, int(retry_after_s + 0.999)))


class QuotaExceeded(RateLimited):
    slug, title = "quota-exceeded", "Daily image quota exceeded"


class ServiceUnavailable(FfgateError):
    status, slug, title = 503, "service-unavailable", "Service Unavailable"


class StorageUnavailable(ServiceUnavailable):
    """The output store failed in a way a later attempt may not: unreachable, timed out, throttled, full,
    refusing our credentials or missing its bucket. Always retryable by the caller (a mirror copy is retried,
    a reader is told when to come back); `reason` is a short fixed word for metrics and logs."""

    slug, title = "storage-unavailable", "The output store is unavailable"
    retryable = True

    def __init__(self, detail: str | None = None, *, reason: str, retry_after_s: float = 5.0) -> None:
        super().__init__(detail)
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.headers["Retry-After"] = str(max(1, int(retry_after_s + 0.999)))


class UpstreamError(FfgateError):
    status, slug, title = 502, "upstream-error", "Bad Gateway"
    retryable = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        upstream_status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(detail, code=code)
        self.upstream_status = upstream_status


class UpstreamRejected(UpstreamError):
    slug, title = "upstream-rejected", "Firefly refused the request"


class UpstreamAuthError(UpstreamError):
    status, slug, title = 503, "upstream-auth", "Adobe IMS refused the gateway's credentials"


class UpstreamRateLimited(UpstreamError):
    status, slug, title = 503, "upstream-rate-limited", "Firefly rate limit reached"
    retryable = True

    def __init__(self, detail: str | None = None, *, retry_after_s: float, level: str | None = None) -> None:
        super().__init__(detail, upstream_status=429, code="rate_limited")
        self.retry_after_s = retry_after_s
        self.level = level


class UpstreamUnavailable(UpstreamError):
    status, slug, title = 503, "upstream-unavailable", "Firefly is unavailable"
    retryable = True


class UpstreamTimeout(UpstreamError):
    status, slug, title = 504, "upstream-timeout", "Firefly did not answer in time"
    retryable = True
