"""Headers a request's answer carries whichever way it ends (a route's result or an error): the
middleware (service.middleware) sends them, routes and dependencies add them."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar

from ffgate.clients.rate_limit import RateLimitState

extra_headers: ContextVar[list[tuple[bytes, bytes]] | None] = ContextVar("extra_headers", default=None)


def add_response_headers(headers: Mapping[str, str]) -> None:
    """Send these headers with whatever answer this request ends with, errors included."""
    extra = extra_headers.get()
    if extra is not None:
        extra += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def rate_limit_headers(rate: RateLimitState) -> dict[str, str]:
    """`RateLimit-*` (IETF draft) of the caller's request window."""
    return {
        "RateLimit-Limit": str(rate.limit),
        "RateLimit-Remaining": str(rate.remaining),
        "RateLimit-Reset": str(rate.reset_s),
    }


def add_rate_limit_headers(rate: RateLimitState | None) -> None:
    """The caller's `RateLimit-*` go out with whatever answer this request ends with (none for the
    bootstrap admin, who is not rate limited)."""
    if rate is not None:
        add_response_headers(rate_limit_headers(rate))
