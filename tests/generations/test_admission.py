"""The one script that admits a submit, on a real Redis: who may, how often, how many images, which key."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from ffgate.clients.api_keys import ApiKeys
from ffgate.clients.authentication import BOOTSTRAP_ADMIN, Credentials
from ffgate.clients.store import ClientStore
from ffgate.errors import Forbidden, QuotaExceeded, RateLimited, Unauthorized, Unprocessable
from ffgate.generations.admission import Admission
from ffgate.generations.idempotency import IdempotencyKey
from ffgate.generations.records import Record
from ffgate.redis.keys import Keys
from service.schemas import GenerationRequest
from tests.stack import REDIS_HOST, Stack

BODY = GenerationRequest(prompt="a router", customModelId="urn:aaid:sc:VA6C2:x")
KEYS = Keys("t:")
Scenario = Callable[[Admission, ClientStore, aioredis.Redis], Awaitable[None]]


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Callable[[Scenario], None]]:
    stack = Stack(tmp_path)  # only for its private Redis database

    def runner(scenario: Scenario) -> None:
        async def main() -> None:
            redis = aioredis.Redis.from_url(f"redis://{REDIS_HOST}/{stack.db}")
            api_keys = ApiKeys(redis, KEYS, b"p" * 32)
            try:
                await scenario(
                    Admission(redis, KEYS, api_keys, 3600), ClientStore(redis, KEYS, api_keys), redis
                )
            finally:
                await redis.aclose()

        asyncio.run(main())

    yield runner
    stack.close()


async def submit(admission: Admission, who: Any, n: int = 0, **extra: Any) -> tuple[Any, Record | str]:
    args: dict[str, Any] = {
        "gen_id": f"gen_{n}",
        "request_id": "r",
        "request": BODY.firefly_body(),
        "metadata": None,
        "warnings": [],
        "images": 1,
        "idempotency": None,
    }
    return await admission.admit(who, **(args | extra))


def credentials(key: str) -> Credentials:
    return Credentials(SecretStr(key), None)


def test_unknown_revoked_unscoped_and_limited_keys_write_nothing(run: Callable[[Scenario], None]) -> None:
    async def scenario(admission: Admission, clients: ClientStore, redis: aioredis.Redis) -> None:
        with pytest.raises(Unauthorized):
            await submit(admission, credentials("ffk_nobody"))
        reader = await clients.create(
            name="r", scopes=["models:read"], requests_per_minute=5, daily_image_quota=None
        )
        with pytest.raises(Forbidden):
            await submit(admission, credentials(reader.api_key.get_secret_value()))
        limited = await clients.create(
            name="l", scopes=["generate"], requests_per_minute=1, daily_image_quota=None
        )
        key = limited.api_key.get_secret_value()
        principal, record = await submit(admission, credentials(key), 1)
        assert isinstance(record, Record) and record.client_id == principal.client_id == limited.client.id
        with pytest.raises(RateLimited):
            await submit(admission, credentials(key), 2)
        await clients.revoke(limited.client.id)
        with pytest.raises(Unauthorized):
            await submit(admission, credentials(key), 3)
        assert await redis.exists(KEYS.generation("gen_1")) == 1
        assert await redis.exists(KEYS.generation("gen_2"), KEYS.generation("gen_3")) == 0

    run(scenario)


def test_quota_and_idempotency_are_decided_with_the_write(run: Callable[[Scenario], None]) -> None:
    async def scenario(admission: Admission, clients: ClientStore, redis: aioredis.Redis) -> None:
        issued = await clients.create(
            name="q", scopes=["generate"], requests_per_minute=99, daily_image_quota=3
        )
        who = credentials(issued.api_key.get_secret_value())
        key = IdempotencyKey.of("k1", BODY.as_given())
        _, first = await submit(admission, who, 1, images=2, idempotency=key)
        assert isinstance(first, Record)
        _, again = await submit(admission, who, 2, images=2, idempotency=key)
        assert again == "gen_1"  # the original; no quota spent, nothing written
        with pytest.raises(Unprocessable):
            await submit(admission, who, 3, images=2, idempotency=IdempotencyKey("k1", "0" * 64))
        with pytest.raises(QuotaExceeded) as spent:
            await submit(admission, who, 4, images=2)
        assert spent.value.headers["Retry-After"]
        _, last = await submit(admission, who, 5, images=1)
        assert isinstance(last, Record)
        index = await redis.zrange(KEYS.client_generations(issued.client.id), 0, -1)
        assert index == [b"gen_1", b"gen_5"]  # in creation order

        admin, record = await submit(admission, BOOTSTRAP_ADMIN, 6, images=4)  # no quota, no lookup
        assert admin is BOOTSTRAP_ADMIN and isinstance(record, Record) and record.client_id == "admin"

    run(scenario)
