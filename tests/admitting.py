"""Creating jobs straight in Redis, for tests and benchmarks that play several clients at once: the same
script the gateway uses (ffgate.generations.admission), with the client given instead of authenticated."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from ffgate.clients.api_keys import ApiKeys
from ffgate.clients.authentication import Principal
from ffgate.generations.admission import Admission
from ffgate.generations.records import JobStore
from ffgate.redis.keys import Keys


class AdmittingStore(JobStore):
    def __init__(self, redis: aioredis.Redis, keys: Keys, result_ttl_s: int) -> None:
        super().__init__(redis, keys, result_ttl_s)
        self._admission = Admission(redis, keys, ApiKeys(redis, keys, None), result_ttl_s)

    async def create(self, *, gen_id: str, client_id: str, images: int = 1, **fields: Any) -> None:
        """Queue a job for `client_id` (fields: request_id, request, metadata, warnings[, webhook])."""
        principal = Principal(client_id, frozenset({"generate"}))
        await self._admission.admit(principal, gen_id=gen_id, images=images, idempotency=None, **fields)
