"""ffgate.wiring's Redis clients: what is retried and for how long, subscriptions that outlive the answer
timeout, and (with real redis-server and Sentinel processes) commands carried across a failover."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.exceptions import AuthenticationError, ConnectionError, ReadOnlyError, TimeoutError

from ffgate.config import Settings
from ffgate.wiring import may_retry, open_redis, open_sync_redis
from tests.redis_db import REDIS_URL
from tests.redis_ha import MASTER_NAME, PASSWORD, redis_ha
from tests.stack import free_port


def settings_for(url: str, **values: Any) -> Settings:
    return Settings(redis_url=url, redis_sentinels=[], redis_sentinel_master=None, **values)


# Counts its runs in KEYS[1], then keeps Redis busy for ARGV[1] microseconds: an answer that comes late.
SLOW_SCRIPT = """
redis.call('INCR', KEYS[1])
local t = redis.call('TIME')
local start = t[1] * 1000000 + t[2]
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start > tonumber(ARGV[1])
return 1
"""
RUNS = "ffgate-test:wiring:runs"


def slow_command(client: redis.Redis, busy_s: float) -> None:
    client.eval(SLOW_SCRIPT, 1, RUNS, str(int(busy_s * 1_000_000)))


@pytest.fixture
def plain() -> Iterator[redis.Redis]:
    """A client of the test database, independent of the code under test."""
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(RUNS)
    yield client
    client.delete(RUNS)
    client.close()


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A port whose listener never accepts and has a full queue: connecting to it times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


def test_what_never_reached_redis_is_retried_and_what_may_have_run_is_not(
    plain: redis.Redis, full_backlog: int
) -> None:
    def error_of(url: str) -> Exception:
        client = open_sync_redis(settings_for(url, redis_timeout_s=0.3, redis_retry_for_s=0))
        with pytest.raises(redis.RedisError) as caught:
            slow_command(client, 0.6)
        client.close()
        return caught.value

    refused = error_of(f"redis://127.0.0.1:{free_port()}/0")
    assert isinstance(refused, ConnectionError) and may_retry(refused)
    connect_timeout = error_of(f"redis://127.0.0.1:{full_backlog}/0")  # redis-py's own words, checked here
    assert isinstance(connect_timeout, TimeoutError) and may_retry(connect_timeout)
    read_timeout = error_of(REDIS_URL)
    assert isinstance(read_timeout, TimeoutError) and not may_retry(read_timeout)
    assert not may_retry(AuthenticationError("invalid password"))
    assert not may_retry(ReadOnlyError("You can't write against a read only replica."))


def test_a_command_whose_answer_came_too_late_is_not_run_again(plain: redis.Redis) -> None:
    async def late() -> None:
        client = open_redis(settings_for(REDIS_URL, redis_timeout_s=0.3, redis_retry_for_s=5))
        try:
            await client.eval(SLOW_SCRIPT, 1, RUNS, "800000")
        finally:
            await client.aclose()

    sync_client = open_sync_redis(settings_for(REDIS_URL, redis_timeout_s=0.3))
    attempts: list[Callable[[], None]] = [lambda: slow_command(sync_client, 0.8), lambda: asyncio.run(late())]
    for attempt in attempts:
        plain.delete(RUNS)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            attempt()
        assert time.monotonic() - started < 0.7  # given up at the timeout, not retried for 5 s
        time.sleep(1.0)  # the script ends meanwhile; a retry would have run it again
        assert plain.get(RUNS) == b"1"
    sync_client.close()


def test_an_unreachable_redis_is_retried_for_the_configured_time_then_given_up() -> None:
    port = free_port()
    for retry_for_s in (0.0, 1.0):
        client = open_sync_redis(settings_for(f"redis://127.0.0.1:{port}/0", redis_retry_for_s=retry_for_s))
        started = time.monotonic()
        with pytest.raises(ConnectionError):
            client.ping()
        took = time.monotonic() - started
        assert retry_for_s <= took < retry_for_s + 0.5, (retry_for_s, took)
        client.close()

    async def ping() -> float:
        client = open_redis(settings_for(f"redis://127.0.0.1:{port}/0", redis_retry_for_s=1.0))
        started = time.monotonic()
        with pytest.raises(ConnectionError):
            await client.ping()
        await client.aclose()
        return time.monotonic() - started

    assert 1.0 <= asyncio.run(ping()) < 1.5


def test_a_subscription_waits_longer_than_the_answer_timeout() -> None:
    async def main() -> list[bytes]:
        client = open_redis(settings_for(REDIS_URL, redis_timeout_s=0.2))
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe("ffgate-test:wiring")
        await asyncio.sleep(1.0)  # five answer timeouts with nothing published
        await client.publish("ffgate-test:wiring", "late")
        messages = []
        async for message in pubsub.listen():
            messages.append(message["data"])
            break
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()
        return messages

    assert asyncio.run(asyncio.wait_for(main(), timeout=10)) == [b"late"]


def test_commands_in_flight_are_carried_to_the_promoted_replica(tmp_path: Path) -> None:
    """A blocking pop waits on the primary when it dies; the sync (RQ's) and the async client each get
    their answer from the replica the sentinels promote. The database and password are FFGATE_REDIS_URL's."""
    with redis_ha(tmp_path) as ha:
        settings = Settings(
            redis_url=f"redis://:{PASSWORD}@named-by-sentinels/5",
            redis_sentinels=[("127.0.0.1", port) for port in ha.sentinel_ports],
            redis_sentinel_master=MASTER_NAME,
            redis_timeout_s=1.0,
            redis_retry_for_s=15,
        )
        sync_client = open_sync_redis(settings)
        sync_client.connection_pool.connection_kwargs["socket_timeout"] = 30  # as RQ lengthens it
        assert sync_client.set("before", "1")
        assert ha.primary_client(5).get("before") == b"1" and ha.primary_client(0).get("before") is None

        results: dict[str, Any] = {}

        def sync_pop() -> None:
            try:
                results["sync"] = sync_client.blpop(["sync-list"], timeout=25)
            except Exception as exc:
                results["sync"] = exc

        async def async_pop() -> None:
            client = open_redis(settings)
            client.connection_pool.connection_kwargs["socket_timeout"] = 30
            try:
                results["async_"] = await client.blpop(["async-list"], timeout=25)
            except Exception as exc:
                results["async_"] = exc
            finally:
                await client.aclose()

        popper = threading.Thread(target=sync_pop)
        popper.start()
        loop_thread = threading.Thread(target=lambda: asyncio.run(async_pop()))
        loop_thread.start()
        time.sleep(1.0)  # both pops are waiting on the primary
        ha.kill_primary()
        ha.wait_until(lambda: ha.primary_address()[1] == ha.replica_port, 30, "the replica's promotion")
        promoted = ha.primary_client(5)
        assert promoted.get("before") == b"1"
        promoted.rpush("sync-list", "s")
        promoted.rpush("async-list", "a")
        popper.join(30)
        loop_thread.join(30)
        assert results == {"sync": (b"sync-list", b"s"), "async_": (b"async-list", b"a")}
        assert sync_client.get("before") == b"1"  # and later commands go to the new primary
        sync_client.close()
