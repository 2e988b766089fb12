"""The Adobe org's budget shared by every worker (service/ratelimit.py), on the real test database."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from ffgate.budget.org_budget import UpstreamBudget
from ffgate.redis.keys import Keys
from tests.redis_db import PREFIX, connect

pytestmark = pytest.mark.anyio

KEYS = Keys(PREFIX)
CLIENT_ID = "adobe-client-1"


def budget(redis: aioredis.Redis, *, rpm: int, rpd: int, client_id: str = CLIENT_ID) -> UpstreamBudget:
    return UpstreamBudget(redis, KEYS, client_id, rpm=rpm, rpd=rpd)


def until_utc_midnight() -> float:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


async def test_no_limits_never_wait(redis: aioredis.Redis) -> None:
    unlimited = budget(redis, rpm=0, rpd=0)
    assert [await unlimited.acquire() for _ in range(50)] == [0] * 50


async def test_the_request_over_rpm_waits_until_the_oldest_leaves_the_window(redis: aioredis.Redis) -> None:
    limited = budget(redis, rpm=3, rpd=0)
    first_at = time.time()
    assert await limited.acquire() == 0
    await asyncio.sleep(0.5)
    assert await limited.acquire() == 0
    assert await limited.acquire() == 0

    wait = await limited.acquire()
    assert wait == pytest.approx(60 - (time.time() - first_at), abs=0.15)  # not 60 s after the newest


async def test_a_refused_acquire_consumes_no_budget(redis: aioredis.Redis) -> None:
    limited = budget(redis, rpm=3, rpd=6)
    for _ in range(3):
        assert await limited.acquire() == 0
    for _ in range(3):
        assert await limited.acquire() > 55

    # Same credential, looser minute limit: the window holds the 3 sent requests only.
    assert await budget(redis, rpm=4, rpd=6).acquire() == 0
    # Same credential, no minute limit: 4 of 6 used today, refusals not counted.
    daily = budget(redis, rpm=0, rpd=6)
    assert await daily.acquire() == 0
    assert await daily.acquire() == 0
    assert await daily.acquire() > 0


async def test_the_request_over_rpd_waits_until_utc_midnight(redis: aioredis.Redis) -> None:
    limited = budget(redis, rpm=0, rpd=2)
    assert await limited.acquire() == 0
    assert await limited.acquire() == 0

    assert await limited.acquire() == pytest.approx(until_utc_midnight(), abs=1.0)
    assert await limited.acquire() == pytest.approx(until_utc_midnight(), abs=1.0)


async def test_pause_holds_every_request_for_the_time_given(redis: aioredis.Redis) -> None:
    unlimited = budget(redis, rpm=0, rpd=0)
    await unlimited.pause(5)

    assert await unlimited.acquire() == pytest.approx(5, abs=0.1)
    await asyncio.sleep(0.3)
    assert await unlimited.acquire() == pytest.approx(4.7, abs=0.1)


async def test_a_pause_ends_by_itself(redis: aioredis.Redis) -> None:
    unlimited = budget(redis, rpm=0, rpd=0)
    await unlimited.pause(0.2)
    assert await unlimited.acquire() > 0
    await asyncio.sleep(0.3)
    assert await unlimited.acquire() == 0


async def test_a_shorter_pause_never_shortens_a_longer_one(redis: aioredis.Redis) -> None:
    unlimited = budget(redis, rpm=0, rpd=0)
    await unlimited.pause(10)
    await unlimited.pause(2)
    assert await unlimited.acquire() == pytest.approx(10, abs=0.1)

    await unlimited.pause(30)  # a longer one does extend it
    assert await unlimited.acquire() == pytest.approx(30, abs=0.1)


async def test_a_paused_acquire_is_not_counted(redis: aioredis.Redis) -> None:
    limited = budget(redis, rpm=1, rpd=0)
    await limited.pause(0.2)
    assert await limited.acquire() > 0
    await asyncio.sleep(0.3)
    assert await limited.acquire() == 0


async def test_two_processes_share_one_budget(redis: aioredis.Redis) -> None:
    async with connect() as other_redis:
        here = budget(redis, rpm=2, rpd=0)
        there = budget(other_redis, rpm=2, rpd=0)
        assert await here.acquire() == 0
        assert await there.acquire() == 0
        assert await here.acquire() > 55
        assert await there.acquire() > 55

        await there.pause(20)
        unlimited_here = budget(redis, rpm=0, rpd=0)
        assert await unlimited_here.acquire() == pytest.approx(20, abs=0.1)


async def test_each_adobe_credential_has_its_own_budget(redis: aioredis.Redis) -> None:
    one = budget(redis, rpm=1, rpd=0, client_id="credential-one")
    two = budget(redis, rpm=1, rpd=0, client_id="credential-two")
    assert await one.acquire() == 0
    assert await two.acquire() == 0
    assert await one.acquire() > 0
    await one.pause(10)
    assert await budget(redis, rpm=0, rpd=0, client_id="credential-two").acquire() == 0


# Pacing, re-stamping and reading, on DB 7 (tests/redis_db.py).


async def test_a_paced_budget_spaces_requests_evenly(qredis: aioredis.Redis) -> None:
    paced = UpstreamBudget(qredis, KEYS, CLIENT_ID, rpm=120, rpd=0, burst=1)
    assert await paced.acquire() == 0
    assert await paced.acquire() == pytest.approx(0.5, abs=0.05)
    await asyncio.sleep(0.5)
    assert await paced.acquire() == 0


async def test_a_burst_goes_back_to_back_then_paced(qredis: aioredis.Redis) -> None:
    paced = UpstreamBudget(qredis, KEYS, CLIENT_ID, rpm=60, rpd=0, burst=3)
    assert [await paced.acquire() for _ in range(3)] == [0, 0, 0]
    assert await paced.acquire() == pytest.approx(1.0, abs=0.05)


async def test_an_answer_restamps_the_request_in_the_window(qredis: aioredis.Redis) -> None:
    limited = UpstreamBudget(qredis, KEYS, CLIENT_ID, rpm=1, rpd=0)
    assert await limited.acquire("req-1") == 0
    await asyncio.sleep(0.3)
    await limited.settle("req-1")  # Firefly answered 0.3 s after the request left
    assert await limited.acquire() == pytest.approx(60, abs=0.05)


async def test_read_shows_the_window_pace_day_and_pause(qredis: aioredis.Redis) -> None:
    paced = UpstreamBudget(qredis, KEYS, CLIENT_ID, rpm=60, rpd=100, burst=1)
    sent_at = time.time()
    assert await paced.acquire() == 0
    await paced.pause(5)

    state = await paced.read()

    assert (state.rpm, state.rpd, state.burst, state.used_today) == (60, 100, 1, 1)
    assert state.window == [pytest.approx(sent_at, abs=0.05)]
    assert state.pace_at == pytest.approx(sent_at + 1, abs=0.05)
    assert state.paused_until == pytest.approx(state.now + 5, abs=0.05)
    assert state.next_midnight == pytest.approx(state.now + until_utc_midnight(), abs=1)
