"""The connections every ffgate process opens once: Redis (async, and sync for RQ), the upstream HTTP
client, the RQ queue, the job store, the webhook deliveries, the Firefly client, the fair queue and the
output store. The gateway and the worker extend it.

Every Redis client of ffgate is made here (`open_redis`, `open_sync_redis`), from FFGATE_REDIS_URL or, with
FFGATE_REDIS_SENTINELS, through Redis Sentinel: the sentinels name the primary, a connection asks them again
whenever it connects, and one still open to a primary that was demoted drops on its first READONLY answer.
The same policy holds for every client: connect and answer within FFGATE_REDIS_TIMEOUT_S; what could not
reach Redis is tried again for FFGATE_REDIS_RETRY_FOR_S; subscriptions use connections of their own that
wait for messages without a time limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import redis.asyncio as aioredis
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.retry
import redis.sentinel
from redis import Redis as SyncRedis
from redis.asyncio.client import PubSub
from redis.backoff import EqualJitterBackoff, NoBackoff
from redis.connection import parse_url
from redis.exceptions import AuthenticationError, AuthorizationError, ConnectionError, TimeoutError
from rq import Queue
from rq.serializers import JSONSerializer

from ffgate.budget.breaker import Breaker
from ffgate.budget.fair_queue import FairQueue
from ffgate.config import Settings
from ffgate.generations.records import JobStore
from ffgate.generations.stored import StoredOutputs
from ffgate.redis.keys import Keys
from ffgate.storage import ObjectStore, open_store
from ffgate.upstream.firefly import Firefly
from ffgate.webhooks.schedule import Deliveries

T = TypeVar("T")
HEALTH_CHECK_INTERVAL_S = 30
# redis-py's words for a connection that could not be made in time (nothing was sent on it).
CONNECT_TIMEOUT_MESSAGE = "Timeout connecting to server"


def may_retry(error: Exception) -> bool:
    """Whether a failed command may be sent again: it never reached Redis (refused, reset, no primary
    known, a demoted primary, still loading, no connection in time). Not after waiting for an answer in
    vain (the command may have run: ffgate's scripts are not all idempotent), nor for a refused password."""
    if isinstance(error, AuthenticationError | AuthorizationError):
        return False
    if isinstance(error, TimeoutError):
        return str(error) == CONNECT_TIMEOUT_MESSAGE
    return isinstance(error, ConnectionError)


# Retries nest (a command's retry around a Sentinel connection's own): the outermost call's first failure
# starts one deadline for all of them, so giving up takes FFGATE_REDIS_RETRY_FOR_S and not a multiple.
_retry_depth: ContextVar[int] = ContextVar("redis_retry_depth", default=0)
_retry_deadline: ContextVar[float | None] = ContextVar("redis_retry_deadline", default=None)


def _give_up(for_s: float) -> float:
    """Seconds left to retry in (0 or less: give up), starting the shared deadline on the first failure."""
    deadline = _retry_deadline.get()
    now = time.monotonic()
    if deadline is None:
        deadline = now + for_s
        _retry_deadline.set(deadline)
    return deadline - now


def _backoff() -> EqualJitterBackoff:
    return EqualJitterBackoff(cap=1.0, base=0.05)  # 0.05-0.1 s, doubling up to 0.5-1 s between tries


class AsyncRetry(redis.asyncio.retry.Retry):
    """redis-py's retry bounded by time rather than count, for the errors `may_retry` allows."""

    def __init__(self, for_s: float) -> None:
        super().__init__(_backoff(), retries=-1, supported_errors=(ConnectionError, TimeoutError))
        self.for_s = for_s

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[[Exception], Any] | Callable[[Exception, int], Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        self._backoff.reset()  # type: ignore[no-untyped-call]
        failures = 0
        depth = _retry_depth.set(_retry_depth.get() + 1)
        try:
            while True:
                try:
                    return await do()
                except self._supported_errors as error:
                    if not may_retry(error) or (is_retryable is not None and not is_retryable(error)):
                        raise
                    failures += 1
                    await (fail(error, failures) if with_failure_count else fail(error))  # type: ignore[call-arg]
                    left = _give_up(self.for_s)
                    if left <= 0:
                        raise
                    await asyncio.sleep(min(left, self._backoff.compute(failures)))
        finally:
            _retry_depth.reset(depth)
            if _retry_depth.get() == 0:
                _retry_deadline.set(None)


class SyncRetry(redis.retry.Retry):
    """`AsyncRetry` for the sync client (RQ)."""

    def __init__(self, for_s: float) -> None:
        super().__init__(_backoff(), retries=-1, supported_errors=(ConnectionError, TimeoutError))
        self.for_s = for_s

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Callable[[Exception], Any] | Callable[[Exception, int], Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        self._backoff.reset()  # type: ignore[no-untyped-call]
        failures = 0
        depth = _retry_depth.set(_retry_depth.get() + 1)
        try:
            while True:
                try:
                    return do()
                except self._supported_errors as error:
                    if not may_retry(error) or (is_retryable is not None and not is_retryable(error)):
                        raise
                    failures += 1
                    fail(error, failures) if with_failure_count else fail(error)  # type: ignore[call-arg]
                    left = _give_up(self.for_s)
                    if left <= 0:
                        raise
                    time.sleep(min(left, self._backoff.compute(failures)))
        finally:
            _retry_depth.reset(depth)
            if _retry_depth.get() == 0:
                _retry_deadline.set(None)


# redis-py (8.1) reconnects a connection that broke in the middle of a command by `connect_check_health`,
# to the address it had, not through `connect`, which alone asks the sentinels: a command retried after the
# primary died would knock on the dead one's door until its retries ran out, though a replica had long been
# promoted. These connections reconnect through `connect`, so a retry finds the new primary.
class AsyncSentinelConnection(redis.asyncio.sentinel.SentinelManagedConnection):
    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self.is_connected:
            await self.connect()  # type: ignore[no-untyped-call]
        await super().send_packed_command(command, check_health)


class AsyncSentinelSSLConnection(
    AsyncSentinelConnection, redis.asyncio.sentinel.SentinelManagedSSLConnection
):
    pass


class SyncSentinelConnection(redis.sentinel.SentinelManagedConnection):
    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self.is_connected:
            self.connect()  # type: ignore[no-untyped-call]
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]


class SyncSentinelSSLConnection(SyncSentinelConnection, redis.sentinel.SentinelManagedSSLConnection):
    pass


class AsyncRedis(aioredis.Redis):
    """An async client whose subscriptions use a pool of their own: a subscription is idle for as long as
    nothing is published, so its reads have no timeout (TCP keepalive finds a dead peer instead)."""

    subscriber: aioredis.Redis | None = None  # the owner of the subscriptions' pool
    sentinels: redis.asyncio.sentinel.Sentinel | None = None

    def pubsub(self, **kwargs: Any) -> PubSub:
        pool = self.subscriber.connection_pool if self.subscriber is not None else self.connection_pool
        return PubSub(pool, **kwargs)

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if self.subscriber is not None:
            await self.subscriber.aclose()
        if self.sentinels is not None:
            for client in self.sentinels.sentinels:
                await client.aclose()


class SyncSentinelRedis(SyncRedis):
    """The sync client through Sentinel; closing it closes the sentinel connections too."""

    sentinels: redis.sentinel.Sentinel | None = None

    def close(self) -> None:
        super().close()
        if self.sentinels is not None:
            for client in self.sentinels.sentinels:
                client.close()


def _connection_options(settings: Settings) -> dict[str, Any]:
    return {
        "socket_timeout": settings.redis_timeout_s,
        "socket_connect_timeout": settings.redis_timeout_s,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
    }


def _sentinel_url_options(settings: Settings) -> dict[str, Any]:
    """What FFGATE_REDIS_URL still says when the sentinels name the host: database, user, password, TLS
    (`ssl`: the caller picks the connection class)."""
    options: dict[str, Any] = parse_url(str(settings.redis_url))  # type: ignore[no-untyped-call]
    for name in ("host", "port", "path", "connection_class"):
        options.pop(name, None)
    return options


def _sentinel_options(settings: Settings) -> dict[str, Any]:
    """How the sentinels themselves are asked: quickly, and on to the next one if one does not answer."""
    return {
        "socket_timeout": settings.redis_timeout_s,
        "socket_connect_timeout": settings.redis_timeout_s,
    }


def open_redis(
    settings: Settings, *, max_connections: int | None = None, retry_for_s: float | None = None
) -> AsyncRedis:
    """The async client of FFGATE_REDIS_URL (or of the primary the sentinels name). Open it on the event
    loop that will use it. `retry_for_s`: instead of FFGATE_REDIS_RETRY_FOR_S (the gateway's is shorter)."""
    retry_for = settings.redis_retry_for_s if retry_for_s is None else retry_for_s
    options = _connection_options(settings) | {
        "max_connections": max_connections,
        "retry": AsyncRetry(retry_for),
    }
    # Subscriptions ride out a failover whatever `retry_for_s` says: a lost one loses wake-ups.
    subscribing = options | {"socket_timeout": None, "retry": AsyncRetry(settings.redis_retry_for_s)}
    sentinel = settings.redis_sentinel
    if sentinel is None:
        url = str(settings.redis_url)
        client = AsyncRedis(connection_pool=aioredis.ConnectionPool.from_url(url, **options))
        client.auto_close_connection_pool = True
        client.subscriber = aioredis.Redis.from_url(url, **subscribing)
        return client
    addresses, master = sentinel
    manager = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call]
        addresses,
        sentinel_kwargs=_sentinel_options(settings) | {"retry": redis.asyncio.retry.Retry(NoBackoff(), 0)},
        **_sentinel_url_options(settings),
    )
    tls = settings.redis_url.scheme == "rediss"
    options["connection_class"] = AsyncSentinelSSLConnection if tls else AsyncSentinelConnection
    subscribing["connection_class"] = options["connection_class"]
    client = manager.master_for(master, redis_class=AsyncRedis, **options)
    assert isinstance(client, AsyncRedis)
    client.subscriber = manager.master_for(master, **subscribing)
    client.sentinels = manager
    return client


def open_sync_redis(settings: Settings) -> SyncRedis:
    """The sync client (RQ's connection); RQ lengthens its answer timeout past its blocking pops."""
    options = _connection_options(settings) | {"retry": SyncRetry(settings.redis_retry_for_s)}
    sentinel = settings.redis_sentinel
    if sentinel is None:
        return SyncRedis.from_url(str(settings.redis_url), **options)
    addresses, master = sentinel
    manager = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
        addresses,
        sentinel_kwargs=_sentinel_options(settings) | {"retry": redis.retry.Retry(NoBackoff(), 0)},
        **_sentinel_url_options(settings),
    )
    tls = settings.redis_url.scheme == "rediss"
    options["connection_class"] = SyncSentinelSSLConnection if tls else SyncSentinelConnection
    client = manager.master_for(master, redis_class=SyncSentinelRedis, **options)  # type: ignore[no-untyped-call]
    assert isinstance(client, SyncSentinelRedis)
    client.sentinels = manager
    return client


@dataclass
class Connections:
    settings: Settings
    keys: Keys
    redis: aioredis.Redis  # every command answers within FFGATE_REDIS_TIMEOUT_S
    sync_redis: SyncRedis
    http: httpx.AsyncClient  # the submit lane (and IMS): generate-async, FFGATE_UPSTREAM_TIMEOUT_S
    status_http: httpx.AsyncClient  # the status lane: status, cancel, listings, FFGATE_STATUS_TIMEOUT_S
    queue: Queue
    jobs: JobStore
    deliveries: Deliveries
    firefly: Firefly | None  # None until the Adobe credential is configured
    fairqueue: FairQueue | None  # the queued jobs, the budget and the breaker of that credential
    store: ObjectStore  # where outputs are kept (FFGATE_STORAGE_URL)
    stored: StoredOutputs  # which stored objects which generations refer to

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        http_connections: int,
        redis_connections: int,
        status_connections: int | None = None,
        redis_retry_for_s: float | None = None,
    ) -> Connections:
        """Call on the event loop that will use them (redis.asyncio and httpx bind to it).

        Submits and status calls get a connection pool each: a status host that answers slowly holds
        connections of its own pool only, never the ones a submit needs."""
        keys = Keys(settings.redis_prefix)
        aredis = open_redis(settings, max_connections=redis_connections, retry_for_s=redis_retry_for_s)
        sync_redis = open_sync_redis(settings)
        # A submit on a connection the server is just closing fails mid-request, and its outcome is then
        # unknown: so the submit lane reuses only connections idle for less than 2 s (servers commonly
        # close idle ones after 5 s; httpx's own default is that same 5 s, a race).
        http = _client(settings.upstream_timeout_s, http_connections, keepalive_s=2.0)
        status_http = _client(settings.status_timeout_s, status_connections or http_connections)
        firefly = Firefly(settings, aredis, http, keys, status_http) if settings.has_credentials else None
        fairqueue = None
        if firefly is not None:
            breaker = Breaker(aredis, keys, firefly.tokens.client_id, settings)
            fairqueue = FairQueue(aredis, keys, firefly.budget, breaker, settings.client_weights)
        return cls(
            settings=settings,
            keys=keys,
            redis=aredis,
            sync_redis=sync_redis,
            http=http,
            status_http=status_http,
            queue=Queue(settings.queue_name, connection=sync_redis, serializer=JSONSerializer),
            jobs=JobStore(aredis, keys, settings.result_ttl_s),
            deliveries=Deliveries(aredis, keys, max(settings.result_ttl_s, 2 * 86400)),
            firefly=firefly,
            fairqueue=fairqueue,
            store=open_store(settings),
            stored=StoredOutputs(aredis, keys, settings.result_ttl_s),
        )

    async def aclose(self) -> None:
        await self.store.close()
        await self.http.aclose()
        await self.status_http.aclose()
        await self.redis.aclose()
        self.sync_redis.close()


def _client(timeout_s: float, connections: int, keepalive_s: float = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=5.0),
        # Every connection kept alive: past httpx's default of 20, the rest would be re-opened per call.
        limits=httpx.Limits(
            max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=keepalive_s
        ),
        follow_redirects=False,
    )
