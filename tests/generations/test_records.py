"""The generation record and its state machine in Redis (ffgate/generations/records.py), on the test DB."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

from ffgate.generations.records import Record
from ffgate.generations.states import State
from ffgate.redis.keys import Keys
from tests.admitting import AdmittingStore
from tests.redis_db import PREFIX

pytestmark = pytest.mark.anyio

RESULT_TTL_S = 600
KEYS = Keys(PREFIX)
REQUEST = {"prompt": "a lighthouse at dawn", "customModelId": "urn:aaid:sc:model-1", "numVariations": 2}


@pytest.fixture
def store(redis: aioredis.Redis) -> AdmittingStore:
    return AdmittingStore(redis, KEYS, RESULT_TTL_S)


@pytest.fixture
async def events(redis: aioredis.Redis) -> AsyncIterator[PubSub]:
    """Subscribed to `events:g1` before the test changes anything."""
    pubsub = redis.pubsub()
    await pubsub.subscribe(KEYS.events("g1"))
    try:
        yield pubsub
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]


async def create(store: AdmittingStore, gen_id: str = "g1", **overrides: Any) -> None:
    values: dict[str, Any] = {
        "gen_id": gen_id,
        "client_id": "svc-a",
        "request_id": "req-1",
        "request": REQUEST,
        "metadata": {"ticket": "OPS-1", "n": 3},
        "warnings": ["seed ignored"],
    }
    values.update(overrides)
    await store.create(**values)


async def next_event(pubsub: PubSub, within: float = 1.0) -> dict[str, Any] | None:
    """The next message published on the channel, or None if none comes `within` seconds."""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        message = await pubsub.get_message(timeout=left)
        if message is not None and message["type"] == "message":
            return dict(json.loads(message["data"]))
    return None


async def schedule_of(redis: aioredis.Redis) -> dict[str, float]:
    entries: list[tuple[bytes, float]] = await redis.zrange(KEYS.schedule, 0, -1, withscores=True)  # type: ignore[assignment]
    return {member.decode(): score for member, score in entries}


async def test_create_writes_the_record_and_queues_it_for_its_client(
    redis: aioredis.Redis, store: AdmittingStore
) -> None:
    before = time.time()
    await create(store)

    record = await store.get("g1")
    assert record is not None
    assert (record.state, record.status, record.seq) == ("queued", "queued", 1)
    assert record.created_at == record.updated_at
    assert record.completed_at is None
    assert await redis.ttl(KEYS.generation("g1")) == -1  # an active job never expires
    assert record.enqueued_at is not None
    assert before <= record.enqueued_at <= time.time()
    assert await redis.zrange(KEYS.queue("svc-a"), 0, -1, withscores=True) == [(b"g1", record.enqueued_at)]
    assert await redis.zrange(KEYS.queue_clients, 0, -1) == [b"svc-a"]
    assert await schedule_of(redis) == {}  # a queued job waits in its client's queue, not the schedule


async def test_get_of_an_unknown_id_is_none(store: AdmittingStore) -> None:
    assert await store.get("nope") is None


async def test_record_reads_back_what_create_wrote(store: AdmittingStore) -> None:
    await create(store)
    await create(store, "g2", metadata=None, warnings=[])

    record = await store.get("g1")
    assert record is not None
    assert record.id == "g1"
    assert record.client_id == "svc-a"
    assert record.request_id == "req-1"
    assert record.request == REQUEST
    assert record.metadata == {"ticket": "OPS-1", "n": 3}
    assert record.warnings == ["seed ignored"]
    assert record.created_at.endswith("Z")
    assert (record.outputs, record.error, record.upstream_job_id) == ([], None, None)
    assert (record.cancel_requested, record.submit_attempts, record.polls) == (False, 0, 0)
    bare = await store.get("g2")
    assert bare is not None
    assert (bare.metadata, bare.warnings) == (None, [])


async def test_fields_given_to_a_transition_read_back_typed(store: AdmittingStore) -> None:
    await create(store)
    outputs = [{"seed": 7, "image": {"url": "https://img.test/1.jpg"}}]
    applied, _ = await store.transition(
        "g1",
        allowed="queued",
        to="submitted",
        fields={
            "upstreamJobId": "fj-1",
            "statusUrl": "https://firefly.test/v3/status/fj-1",
            "submittedAt": repr(1700000000.25),
            "outputs": outputs,
            "cancelRequested": "1",
        },
    )
    assert applied
    record = await store.get("g1")
    assert record is not None
    assert record.upstream_job_id == "fj-1"
    assert record.status_url == "https://firefly.test/v3/status/fj-1"
    assert record.submitted_at == 1700000000.25
    assert record.outputs == outputs
    assert record.cancel_requested is True


async def test_transition_applies_only_from_an_allowed_state(
    redis: aioredis.Redis, store: AdmittingStore
) -> None:
    await create(store)

    assert await store.transition("g1", allowed=("submitted", "running"), to="succeeded") == (False, "queued")
    record = await store.get("g1")
    assert record is not None
    assert (record.state, record.seq, record.completed_at) == ("queued", 1, None)
    assert await redis.ttl(KEYS.generation("g1")) == -1
    assert await redis.zscore(KEYS.queue("svc-a"), "g1") is not None

    assert await store.transition("g1", allowed=("queued",), to="sending") == (True, "queued")
    assert await store.transition("g1", allowed=("queued",), to="sending") == (False, "sending")
    assert await store.transition("g1", allowed="*", to="failed") == (True, "sending")


async def test_transition_of_a_missing_record_creates_nothing(
    redis: aioredis.Redis, store: AdmittingStore
) -> None:
    assert await store.transition("ghost", allowed="*", to="failed", schedule="poll:1") == (False, "")
    assert await redis.exists(KEYS.generation("ghost")) == 0
    assert await schedule_of(redis) == {}


async def test_a_state_that_is_a_substring_of_an_allowed_one_is_not_allowed(store: AdmittingStore) -> None:
    await create(store)
    assert await store.transition("g1", allowed=("queuedx", "xqueued"), to="sending") == (False, "queued")


async def test_sending_shows_as_queued_and_publishes_nothing(store: AdmittingStore, events: PubSub) -> None:
    await create(store)
    await asyncio.sleep(0.01)

    assert (await store.transition("g1", allowed="queued", to="sending"))[0]
    record = await store.get("g1")
    assert record is not None
    assert (record.state, record.status, record.seq) == ("sending", "queued", 1)
    assert record.updated_at == record.created_at
    # back to the queue after a transient upstream error: still `queued` to the client
    assert (await store.transition("g1", allowed="sending", to="queued"))[0]
    assert (await store.transition("g1", allowed="queued", to="sending"))[0]
    assert (await store.transition("g1", allowed="sending", to="submitted"))[0]

    # the first message on the channel is the change to `submitted`: nothing was published before it
    assert await next_event(events) == {"id": "g1", "status": "submitted", "seq": 2}
    record = await store.get("g1")
    assert record is not None
    assert record.seq == 2


async def test_a_public_change_bumps_seq_sets_updated_at_and_publishes(
    store: AdmittingStore, events: PubSub
) -> None:
    await create(store)
    await asyncio.sleep(0.01)

    assert (await store.transition("g1", allowed="queued", to="submitted"))[0]
    assert await next_event(events) == {"id": "g1", "status": "submitted", "seq": 2}
    submitted = await store.get("g1")
    assert submitted is not None
    assert submitted.seq == 2
    assert submitted.updated_at > submitted.created_at

    await asyncio.sleep(0.01)
    assert (await store.transition("g1", allowed="submitted", to="running"))[0]
    assert await next_event(events) == {"id": "g1", "status": "running", "seq": 3}
    running = await store.get("g1")
    assert running is not None
    assert running.updated_at > submitted.updated_at
    # a transition that changes only fields is no public change
    assert (await store.transition("g1", allowed="running", fields={"polls": "4"}))[0]
    assert await next_event(events, within=0.2) is None
    record = await store.get("g1")
    assert record is not None
    assert (record.seq, record.polls, record.updated_at) == (3, 4, running.updated_at)


@pytest.mark.parametrize("final", ["succeeded", "failed", "canceled"])
async def test_a_terminal_transition_completes_expires_and_unschedules(
    redis: aioredis.Redis, store: AdmittingStore, events: PubSub, final: str
) -> None:
    await create(store)
    assert (await store.transition("g1", allowed="queued", to="submitted", schedule=f"poll:{time.time()}"))[0]
    await store.schedule("submit", "g1", time.time() + 5)  # a stray submit entry as well
    await store.schedule("submit", "other", time.time() + 5)
    assert set(await schedule_of(redis)) == {"poll:g1", "submit:g1", "submit:other"}

    assert await store.transition("g1", allowed=("submitted",), to=final) == (True, "submitted")

    record = await store.get("g1")
    assert record is not None
    assert record.status == final
    assert record.terminal
    assert record.completed_at is not None
    assert record.completed_at == record.updated_at
    assert RESULT_TTL_S - 2 <= await redis.ttl(KEYS.generation("g1")) <= RESULT_TTL_S
    assert set(await schedule_of(redis)) == {"submit:other"}
    assert await next_event(events) == {"id": "g1", "status": "submitted", "seq": 2}
    assert await next_event(events) == {"id": "g1", "status": final, "seq": 3}


async def test_a_poll_schedule_replaces_the_submit_entry(
    redis: aioredis.Redis, store: AdmittingStore
) -> None:
    await create(store)
    due = time.time() + 2.5
    assert (await store.transition("g1", allowed="queued", to="sending"))[0]
    assert (await store.transition("g1", allowed="sending", to="submitted", schedule=f"poll:{due!r}"))[0]

    schedule = await schedule_of(redis)
    assert list(schedule) == ["poll:g1"]
    assert schedule["poll:g1"] == pytest.approx(due, abs=1e-3)


async def test_a_submit_schedule_puts_the_job_back_for_later(
    redis: aioredis.Redis, store: AdmittingStore
) -> None:
    await create(store)
    later = time.time() + 4
    assert (await store.transition("g1", allowed="queued", to="sending"))[0]
    assert (await store.transition("g1", allowed="sending", to="queued", schedule=f"submit:{later!r}"))[0]

    assert (await schedule_of(redis))["submit:g1"] == pytest.approx(later, abs=1e-3)
    assert await store.claim_due(10, 30) == []


async def test_claim_due_returns_only_due_members_at_most_limit(
    redis: aioredis.Redis, store: AdmittingStore
) -> None:
    now = time.time()
    await store.schedule("poll", "a", now - 5)
    await store.schedule("submit", "b", now - 1)
    await store.schedule("poll", "c", now - 3)
    await store.schedule("poll", "later", now + 60)

    first = await store.claim_due(2, 30)
    assert first == ["poll:a", "poll:c"]  # the most overdue first
    assert await store.claim_due(10, 30) == ["submit:b"]
    assert await store.claim_due(10, 30) == []
    schedule = await schedule_of(redis)
    for member in ("poll:a", "poll:c", "submit:b"):
        assert schedule[member] == pytest.approx(now + 30, abs=1.0)  # leased, not removed
    assert schedule["poll:later"] == pytest.approx(now + 60, abs=1e-3)


async def test_a_claimed_member_comes_back_when_its_lease_passes(store: AdmittingStore) -> None:
    await store.schedule("poll", "a", time.time() - 1)

    assert await store.claim_due(10, 0.3) == ["poll:a"]
    assert await store.claim_due(10, 0.3) == []
    await asyncio.sleep(0.4)
    assert await store.claim_due(10, 0.3) == ["poll:a"]


def test_a_record_reads_back_as_it_was_stored() -> None:
    record = Record(
        id="gen_1",
        state=State.SUBMITTED,
        created_at="2026-12-01T10:00:00.000Z",
        client_id="cli_a",
        request_id="req-1",
        request={"prompt": "a router", "numVariations": 2},
        metadata={},
        warnings=["w"],
        seq=2,
        upstream_job_id="urn:ff:jobs:1",
        submitted_at=1764583200.25,
        outputs=[{"seed": 1, "image": {"url": "https://x/1.jpg"}}],
        cancel_requested=True,
        webhook_url="https://hooks.test/a",
        webhook_events=["generation.succeeded"],
    )
    stored = record.to_hash()
    assert stored["webhookEvents"] == ",generation.succeeded," and "polls" not in stored
    again = Record.from_hash({k.encode(): v.encode() for k, v in stored.items()})
    assert again == Record(**{**vars(record), "updated_at": record.created_at})
