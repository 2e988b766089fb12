"""The circuit breaker per Adobe credential (service/breaker.py), on DB 7 of the real Redis."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis.asyncio as aioredis

from ffgate.budget.breaker import Breaker
from ffgate.redis.keys import Keys
from tests.redis_db import PREFIX, QUEUE_REDIS_URL, make_settings

pytestmark = pytest.mark.anyio

KEYS = Keys(PREFIX)


def breaker(redis: aioredis.Redis, credential: str = "adobe-client-1", **overrides: Any) -> Breaker:
    values = {"breaker_failures": 3, "breaker_window_s": 60.0, "breaker_cooldown_s": 10.0} | overrides
    return Breaker(redis, KEYS, credential, make_settings(redis_url=QUEUE_REDIS_URL, **values))


async def test_failures_in_a_row_open_it_and_any_answer_resets_the_count(qredis: aioredis.Redis) -> None:
    b = breaker(qredis)
    assert [await b.record(False, probe=False, reason="503") for _ in range(2)] == ["", ""]
    assert await b.record(True, probe=False) == ""  # Firefly answered: the run is broken
    assert await b.read() is None
    assert [await b.record(False, probe=False, reason="503") for _ in range(2)] == ["", ""]

    before = time.time()
    assert await b.record(False, probe=False, reason="Firefly 503: busy") == "opened"

    state = await b.read()
    assert state is not None
    assert state.reason == "Firefly 503: busy"
    assert before - 0.01 <= state.opened_at <= time.time()
    assert state.open_until == pytest.approx(state.opened_at + 10, abs=0.01)
    assert not state.probing


async def test_failures_spread_wider_than_the_window_do_not_open_it(qredis: aioredis.Redis) -> None:
    b = breaker(qredis, breaker_window_s=0.3)
    assert await b.record(False, probe=False) == ""
    assert await b.record(False, probe=False) == ""
    await asyncio.sleep(0.4)
    assert await b.record(False, probe=False) == ""
    assert await b.read() is None


async def test_only_the_probe_closes_it_and_a_failed_probe_opens_it_again(qredis: aioredis.Redis) -> None:
    b = breaker(qredis, breaker_failures=1)
    assert await b.record(False, probe=False, reason="timeout") == "opened"
    first = await b.read()
    assert first is not None
    # a request sent before it opened, answered now, proves little
    assert await b.record(True, probe=False) == ""
    assert await b.read() is not None

    assert await b.record(False, probe=True, reason="503 again") == "reopened"
    again = await b.read()
    assert again is not None
    assert again.reason == "503 again"
    assert again.open_until >= first.open_until
    assert again.opened_at == first.opened_at

    assert await b.record(True, probe=True) == "closed"
    assert await b.read() is None


async def test_each_credential_has_its_own(qredis: aioredis.Redis) -> None:
    one = breaker(qredis, "credential-one", breaker_failures=1)
    two = breaker(qredis, "credential-two", breaker_failures=1)
    assert await one.record(False, probe=False) == "opened"
    assert await two.read() is None
