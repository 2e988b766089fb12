"""How a management command (`ffgate clients`, `ffgate models`) runs: one coroutine on the gateways' Redis,
with ffgate's errors and an unreachable Redis reported as one line and exit status 1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import redis.asyncio as aioredis
import typer
from redis.exceptions import RedisError

from ffgate.config import Settings
from ffgate.errors import FfgateError
from ffgate.redis.keys import Keys

T = TypeVar("T")


def fail(command: str, message: str) -> NoReturn:
    typer.echo(f"ffgate {command}: {message}", err=True)
    raise typer.Exit(1)


def run_on_redis(
    settings: Settings, command: str, action: Callable[[aioredis.Redis, Keys], Awaitable[T]]
) -> T:
    async def main() -> T:
        redis = aioredis.Redis.from_url(str(settings.redis_url), socket_connect_timeout=5)
        try:
            return await action(redis, Keys(settings.redis_prefix))
        finally:
            await redis.aclose()

    try:
        return asyncio.run(main())
    except FfgateError as exc:
        fail(command, exc.detail)
    except RedisError as exc:
        # Not the URL: it may hold a password.
        fail(command, f"Redis at FFGATE_REDIS_URL does not answer ({type(exc).__name__}).")
