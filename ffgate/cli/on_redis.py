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
from ffgate.wiring import open_redis

T = TypeVar("T")


def fail(command: str, message: str) -> NoReturn:
    typer.echo(f"ffgate {command}: {message}", err=True)
    raise typer.Exit(1)


def run_on_redis(
    settings: Settings, command: str, action: Callable[[aioredis.Redis, Keys], Awaitable[T]]
) -> T:
    async def main() -> T:
        redis = open_redis(settings)
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
        where = "the primary FFGATE_REDIS_SENTINELS name" if settings.redis_sentinel else "FFGATE_REDIS_URL"
        fail(command, f"Redis at {where} does not answer ({type(exc).__name__}).")
