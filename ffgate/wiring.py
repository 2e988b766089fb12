"""The connections every ffgate process opens once: Redis (async, and sync for RQ), the upstream HTTP
client, the RQ queue, the job store, the webhook deliveries, the Firefly client and the fair queue. The
gateway and the worker extend it."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import redis.asyncio as aioredis
from redis import Redis as SyncRedis
from rq import Queue
from rq.serializers import JSONSerializer

from ffgate.budget.breaker import Breaker
from ffgate.budget.fair_queue import FairQueue
from ffgate.config import Settings
from ffgate.generations.records import JobStore
from ffgate.redis.keys import Keys
from ffgate.upstream.firefly import Firefly
from ffgate.webhooks.schedule import Deliveries


@dataclass
class Connections:
    settings: Settings
    keys: Keys
    redis: aioredis.Redis  # every command answers within FFGATE_REDIS_TIMEOUT_S
    subscriber: aioredis.Redis  # subscriptions only: they wait for messages without a read limit
    sync_redis: SyncRedis
    http: httpx.AsyncClient  # the submit lane (and IMS): generate-async, FFGATE_UPSTREAM_TIMEOUT_S
    status_http: httpx.AsyncClient  # the status lane: status, cancel, listings, FFGATE_STATUS_TIMEOUT_S
    queue: Queue
    jobs: JobStore
    deliveries: Deliveries
    firefly: Firefly | None  # None until the Adobe credential is configured
    fairqueue: FairQueue | None  # the queued jobs, the budget and the breaker of that credential

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        http_connections: int,
        redis_connections: int,
        status_connections: int | None = None,
    ) -> Connections:
        """Call on the event loop that will use them (redis.asyncio and httpx bind to it).

        Submits and status calls get a connection pool each: a status host that answers slowly holds
        connections of its own pool only, never the ones a submit needs."""
        url = str(settings.redis_url)
        keys = Keys(settings.redis_prefix)
        timeout = settings.redis_timeout_s
        aredis = aioredis.Redis.from_url(
            url,
            max_connections=redis_connections,
            health_check_interval=30,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        subscriber = aioredis.Redis.from_url(url, health_check_interval=30, socket_connect_timeout=timeout)
        sync_redis = SyncRedis.from_url(url, health_check_interval=30)
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
            subscriber=subscriber,
            sync_redis=sync_redis,
            http=http,
            status_http=status_http,
            queue=Queue(settings.queue_name, connection=sync_redis, serializer=JSONSerializer),
            jobs=JobStore(aredis, keys, settings.result_ttl_s),
            deliveries=Deliveries(aredis, keys, max(settings.result_ttl_s, 2 * 86400)),
            firefly=firefly,
            fairqueue=fairqueue,
        )

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.status_http.aclose()
        await self.redis.aclose()
        await self.subscriber.aclose()
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
