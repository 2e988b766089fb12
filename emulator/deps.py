"""Request-time plumbing shared by the upstream routes: the emulator handle, and the checks Adobe's API
gateway makes before a request reaches Firefly, in this order: scripted fault, token, API key, rate limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import Annotated, cast

from fastapi import Depends, Request

from emulator.errors import Endpoint, Rejected, api_error, endpoint_error, models_error
from emulator.state import Emulator, RetryAfterFormat


async def get_emulator(request: Request) -> Emulator:
    return cast(Emulator, request.app.state.emulator)


EmulatorDep = Annotated[Emulator, Depends(get_emulator)]


def public_base(request: Request, emulator: Emulator) -> str:
    """Where clients should reach this emulator: the configured public URL, else the URL they used."""
    return (emulator.settings.public_url or str(request.base_url)).rstrip("/")


def retry_after(seconds: int, form: RetryAfterFormat, now: float) -> str:
    if form == "http-date":
        # Rounded up, so a client that waits until the stated second finds the slot free.
        return formatdate(int(now) + seconds + 1, usegmt=True)
    return str(seconds)


def guard(endpoint: Endpoint) -> Callable[[Request, Emulator], Awaitable[None]]:
    """A dependency that answers for Adobe's gateway (by raising `Rejected`) or lets the request through."""

    async def check(request: Request, emulator: EmulatorDep) -> None:
        await _apply_fault(request, emulator, endpoint)
        if endpoint == "token":
            return
        _check_credentials(request, emulator, endpoint)
        config = emulator.config
        if endpoint in ("models", "generate") or config.limitStatusCalls:
            now = time.time()
            wait = emulator.limiter.acquire(now, config.rpm, config.rpd)
            if wait is not None:
                headers = {
                    "retry-after": retry_after(wait, config.retryAfterFormat, now),
                    "x-access-rate-limit-level": "org",
                }
                raise Rejected(endpoint_error(endpoint, 429, headers))

    return check


async def _apply_fault(request: Request, emulator: Emulator, endpoint: Endpoint) -> None:
    fault = emulator.faults.take(endpoint, time.time())
    if fault is None:
        return
    if fault.delayS:
        # Take the whole request first (FastAPI keeps it for the route), so a client that gives up during
        # the delay has still delivered it, and a delayed generate still creates its job, as upstream would.
        await request.body()
        await asyncio.sleep(fault.delayS)
    if fault.status is None:
        return
    headers: dict[str, str] = {}
    if fault.status == 429 or fault.retryAfterS is not None:
        form = fault.retryAfterFormat or emulator.config.retryAfterFormat
        seconds = fault.retryAfterS if fault.retryAfterS is not None else 1
        headers["retry-after"] = retry_after(seconds, form, time.time())
    if fault.status == 429:
        headers["x-access-rate-limit-level"] = "org"
    raise Rejected(endpoint_error(endpoint, fault.status, headers))


def _check_credentials(request: Request, emulator: Emulator, endpoint: Endpoint) -> None:
    # Token before key is an assumption (undocumented): the gateway can only match a key to a known client.
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not emulator.tokens.valid(token.strip(), time.time()):
        raise Rejected(models_error(401) if endpoint == "models" else api_error(401))
    if request.headers.get("x-api-key") != emulator.settings.client_id:
        if endpoint == "models":
            raise Rejected(models_error(403))
        raise Rejected(api_error(403, "access_error", "API Key is not accepted."))
