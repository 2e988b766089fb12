"""References from generations to stored objects, deleting, reuse and the retention sweep, on a real Redis
(ffgate/generations/stored.py, the reuse step of lua/admit.lua, worker/retention.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from ffgate.clients.api_keys import ApiKeys
from ffgate.clients.authentication import Principal
from ffgate.errors import Conflict, NotFound
from ffgate.generations.admission import Admission, Reuse
from ffgate.generations.records import JobStore
from ffgate.generations.states import State
from ffgate.generations.stored import StoredOutputs
from ffgate.redis.keys import Keys
from ffgate.storage import LocalStore
from worker.retention import FRESH_S, sweep

pytestmark = pytest.mark.anyio

KEYS = Keys("ffgate-test:")
TTL = 600
REQUEST = {"prompt": "a router", "customModelId": "m", "seeds": [5]}


async def admit(redis: aioredis.Redis, gen_id: str, client: str = "svc-a", **reuse: Any) -> str:
    admission = Admission(redis, KEYS, ApiKeys(redis, KEYS, None), TTL)
    _, record = await admission.admit(
        Principal(client, frozenset({"generate"})),
        gen_id=gen_id,
        request_id="r",
        request=REQUEST,
        metadata=None,
        warnings=[],
        images=1,
        idempotency=None,
        reuse=Reuse("fp1", **reuse),
    )
    assert not isinstance(record, str)
    return record.state


async def succeed(redis: aioredis.Redis, gen_id: str, sha: str, stored: StoredOutputs) -> None:
    jobs = JobStore(redis, KEYS, TTL)
    output = {"seed": 5, "image": {"upstreamUrl": "https://x/a.jpg", "stored": False}}
    await jobs.transition(
        gen_id, allowed="*", to=State.SUCCEEDED, fields={"outputs": [output]}, schedule=f"copy:{time.time()}"
    )
    assert await redis.zscore(KEYS.schedule, f"copy:{gen_id}") is not None
    await stored.hold(sha, gen_id)
    done = [
        {"seed": 5, "image": {"upstreamUrl": "https://x/a.jpg", "stored": True, "sha256": sha, "size": 3}}
    ]
    assert await stored.record(gen_id, done, 1, None) is None


async def test_a_stored_generation_answers_the_same_seeded_request(redis: aioredis.Redis) -> None:
    stored = StoredOutputs(redis, KEYS, TTL)
    assert await admit(redis, "g1") == State.QUEUED
    await succeed(redis, "g1", "a" * 64, stored)
    assert await redis.zscore(KEYS.schedule, "copy:g1") is None  # done: no more copies

    assert await admit(redis, "g2") == State.SUCCEEDED
    record = await JobStore(redis, KEYS, TTL).get("g2")
    assert (
        record is not None and record.reused_from == "g1" and record.outputs[0]["image"]["sha256"] == "a" * 64
    )
    assert not await redis.zscore(KEYS.queue("svc-a"), "g2")  # nothing queued
    assert 0 < await redis.ttl(KEYS.generation("g2")) <= TTL

    assert await admit(redis, "g3", allowed=False) == State.QUEUED  # Cache-Control: no-cache
    assert await admit(redis, "g4", client="svc-b") == State.QUEUED  # another client's
    assert await admit(redis, "g5", client="svc-b", across_clients=True) == State.SUCCEEDED


async def test_an_object_goes_with_the_last_generation_referring_to_it(redis: aioredis.Redis) -> None:
    stored = StoredOutputs(redis, KEYS, TTL)
    await admit(redis, "g1")
    await succeed(redis, "g1", "b" * 64, stored)
    assert await admit(redis, "g2") == State.SUCCEEDED
    assert await stored.delete("g1") == []  # g2 still refers to it
    assert await redis.get(KEYS.reuse("svc-a", "fp1")) is None  # the index named g1
    assert await stored.delete("g2") == ["b" * 64]
    assert await stored.unreferenced("b" * 64)
    with pytest.raises(NotFound):
        await stored.delete("g2")
    await admit(redis, "g3")
    with pytest.raises(Conflict, match="queued"):
        await stored.delete("g3")


async def test_a_copy_of_a_generation_deleted_meanwhile_gives_its_objects_back(redis: aioredis.Redis) -> None:
    stored = StoredOutputs(redis, KEYS, TTL)
    await stored.hold("c" * 64, "gone")  # the copy took its reference, then the generation was deleted
    done = [{"seed": 1, "image": {"stored": True, "sha256": "c" * 64}}]
    assert await stored.record("gone", done, 1, None) == ["c" * 64]
    assert await stored.unreferenced("c" * 64)


async def test_the_sweep_removes_only_old_unreferenced_objects(redis: aioredis.Redis, tmp_path: Path) -> None:
    store, stored = LocalStore(tmp_path, fsync=False), StoredOutputs(redis, KEYS, TTL)
    kept, orphan, fresh = [await store.put(data, "image/png") for data in (b"kept", b"orphan", b"fresh")]
    await stored.hold(kept.key, "g1")
    old = time.time() - FRESH_S - 10
    for info in (kept, orphan):
        path = store.local_path(info.key)
        os.utime(path, (old, old))
    assert await sweep(store, stored) == 1
    assert await store.exists(kept.key) and await store.exists(fresh.key)
    assert not await store.exists(orphan.key)
