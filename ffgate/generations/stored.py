"""Which stored objects are still wanted, in Redis: the references from generations to the objects their
outputs are, the reuse index, and deleting a generation with its outputs.

Objects are content-addressed, so one object can be the output of several generations (a reused request,
or the same seed asked again with `no-cache`). Each object has a sorted set of the generations whose outputs
it is, scored by when each record expires (`FFGATE_RESULT_TTL_S` after it finished): an object with no score
in the future is wanted by nobody, and goes, at once when its last generation is deleted, or at the next
sweep (worker.retention) when the records simply expired. A copy takes its reference *before* it writes the
object (`hold`), so a concurrent delete of another generation with the same bytes never removes an object
that is about to be recorded.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis

from ffgate.errors import Conflict, NotFound
from ffgate.generations.states import public_status
from ffgate.redis.keys import Keys
from ffgate.redis.scripts import Script


class StoredOutputs:
    def __init__(self, redis: aioredis.Redis, keys: Keys, result_ttl_s: int) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl = result_ttl_s
        self._record = Script(redis, "record_copies")
        self._delete = Script(redis, "delete_generation")

    async def hold(self, sha256: str, gen_id: str) -> None:
        """Reference the object before it is written, for as long as the record can live at most."""
        key = self._keys.object_refs(sha256)
        until = time.time() + self._ttl
        pipe = self._redis.pipeline(transaction=False)
        pipe.zadd(key, {gen_id: until}, gt=True)
        pipe.expireat(key, int(until) + 86400, gt=True)
        pipe.expireat(key, int(until) + 86400, nx=True)
        await pipe.execute()

    async def record(
        self, gen_id: str, outputs: list[dict[str, Any]], attempts: int, next_due: float | None
    ) -> list[str] | None:
        """Write the outputs after a copy round. None when written; when the record is gone (deleted
        meanwhile) nothing is, and the answer is the objects the copy stored that nobody refers to."""
        reply = await self._record(
            keys={"record": self._keys.generation(gen_id), "schedule": self._keys.schedule},
            args={
                "gen_id": gen_id,
                "outputs": json.dumps(outputs, separators=(",", ":")),
                "attempts": attempts,
                "next_due": "" if next_due is None else repr(next_due),
                "ref_prefix": self._keys.object_refs_prefix,
                "reuse_prefix": self._keys.reuse_prefix,
                "now": time.time(),
            },
        )
        if int(reply[0]) == 1:
            return None
        return sorted({sha.decode() for sha in reply[1:]})

    async def attempts(self, gen_id: str) -> int:
        raw = await self._redis.hget(self._keys.generation(gen_id), "copyAttempts")
        return int(raw or 0)

    async def lease(self, member: str, until: float) -> None:
        """Push a claimed `copy:` entry further out while it is being worked on (only if still scheduled)."""
        await self._redis.zadd(self._keys.schedule, {member: until}, xx=True)

    async def delete(self, gen_id: str) -> list[str]:
        """Delete a finished generation; returns the objects nobody refers to any more (remove them)."""
        reply = await self._delete(
            keys={"record": self._keys.generation(gen_id), "schedule": self._keys.schedule},
            args={
                "gen_id": gen_id,
                "index_prefix": self._keys.client_generations(""),
                "ref_prefix": self._keys.object_refs_prefix,
                "reuse_prefix": self._keys.reuse_prefix,
                "now": time.time(),
            },
        )
        outcome = reply[0].decode()
        if outcome == "missing":
            raise NotFound(f"No generation '{gen_id}'.")
        if outcome == "active":
            state = public_status(reply[1].decode())
            raise Conflict(f"Generation '{gen_id}' is still {state}: cancel it first.")
        return sorted({sha.decode() for sha in reply[1:]})

    async def unreferenced(self, sha256: str) -> bool:
        """No live generation refers to the object (for the sweep)."""
        key = self._keys.object_refs(sha256)
        pipe = self._redis.pipeline(transaction=False)
        pipe.zremrangebyscore(key, "-inf", time.time())
        pipe.zcard(key)
        _, count = await pipe.execute()
        return int(count) == 0
