"""The gateway app in this process, on a runtime of the test's own, and its Redis round trips counted at the
connection (tests/service/test_read_path.py, test_operations_listing.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio.connection import AbstractConnection

from service.app import create_app, open_runtime
from service.deps import Runtime
from tests.redis_db import make_settings


@contextlib.asynccontextmanager
async def own_runtime(**overrides: Any) -> AsyncIterator[Runtime]:
    rt = open_runtime(make_settings(key_pepper="p" * 32, **overrides))
    try:
        yield rt
    finally:
        await rt.aclose()


@contextlib.asynccontextmanager
async def gateway(runtime: Runtime, key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway app, handed `runtime` as its lifespan would, calling with `key`."""
    app = create_app(runtime.settings)

    async def with_runtime(scope: Any, receive: Any, send: Any) -> None:
        scope["state"] = {"runtime": runtime}  # what the lifespan hands every request
        await app(scope, receive, send)

    transport = httpx.ASGITransport(app=with_runtime)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test", headers=headers) as http:
        yield http


@contextlib.contextmanager
def counting_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every write of a command or a pipeline to Redis: each is one round trip."""
    sent = [0]
    original = AbstractConnection.send_packed_command

    async def counted(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        sent[0] += 1
        await original(self, command, check_health)

    with monkeypatch.context() as patch:
        patch.setattr(AbstractConnection, "send_packed_command", counted)
        yield sent
