"""Fair dispatch (service/fairqueue.py) and the positions it reports (service/eta.py), on DB 7 of the real
Redis: jobs of several API clients, as the admission script (ffgate.generations.admission) queues them,
taken by the
dispatch script."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from ffgate.budget.breaker import Breaker
from ffgate.budget.eta import estimate
from ffgate.budget.fair_queue import Claim, FairQueue
from ffgate.budget.org_budget import UpstreamBudget
from ffgate.redis.keys import Keys
from tests.admitting import AdmittingStore
from tests.redis_db import PREFIX, QUEUE_REDIS_URL, make_settings

pytestmark = pytest.mark.anyio

KEYS = Keys(PREFIX)
CREDENTIAL = "adobe-client-1"
LEASE_S = 30.0


def fair_queue(redis: aioredis.Redis, *, rpm: int = 0, rpd: int = 0, **overrides: Any) -> FairQueue:
    settings = make_settings(redis_url=QUEUE_REDIS_URL, upstream_rpm=rpm, upstream_rpd=rpd, **overrides)
    budget = UpstreamBudget(redis, KEYS, CREDENTIAL, rpm, rpd, settings.upstream_burst)
    breaker = Breaker(redis, KEYS, CREDENTIAL, settings)
    return FairQueue(redis, KEYS, budget, breaker, settings.client_weights)


@pytest.fixture
def store(qredis: aioredis.Redis) -> AdmittingStore:
    return AdmittingStore(qredis, KEYS, result_ttl_s=600)


async def queue_jobs(store: AdmittingStore, client: str, count: int) -> list[str]:
    ids = [f"{client}-{i:03d}" for i in range(count)]
    for gen_id in ids:
        await store.create(
            gen_id=gen_id, client_id=client, request_id="r", request={}, metadata=None, warnings=[]
        )
    return ids


async def claimed(queue: FairQueue, limit: int = 1) -> list[Claim]:
    claims = await queue.dispatch(LEASE_S, limit)
    assert isinstance(claims, list), claims
    return claims


async def drain(queue: FairQueue, limit: int = 10_000) -> list[str]:
    """Dispatch until nothing waits; the ids in the order they were claimed."""
    order = []
    while len(order) < limit and isinstance(claims := await queue.dispatch(LEASE_S), list):
        order += [claim.gen_id for claim in claims]
    return order


def client_of(gen_id: str) -> str:
    return gen_id.rpartition("-")[0]


async def test_clients_take_turns_and_a_single_job_waits_at_most_one_slot(
    qredis: aioredis.Redis, store: AdmittingStore
) -> None:
    queue = fair_queue(qredis)
    await queue_jobs(store, "client-a", 30)
    await queue_jobs(store, "client-b", 30)
    await queue_jobs(store, "client-c", 1)

    order = await drain(queue)

    assert len(order) == 61
    assert order.index("client-c-000") <= 2
    # FIFO within a client, and no client gets two turns in a row while the other still waits
    for client in ("client-a", "client-b"):
        mine = [g for g in order if client_of(g) == client]
        assert mine == sorted(mine)
    pairs = [client_of(g) for g in order if client_of(g) != "client-c"]
    assert all(x != y for x, y in itertools.pairwise(pairs))


async def test_a_batch_claims_in_the_fair_order_each_job_once_and_no_more_than_the_budget_allows(
    qredis: aioredis.Redis, store: AdmittingStore
) -> None:
    queue = fair_queue(qredis, rpm=12, rpd=100, upstream_burst=12)
    await queue_jobs(store, "client-a", 10)
    await queue_jobs(store, "client-b", 10)

    first = await claimed(queue, limit=7)
    second = await claimed(queue, limit=7)

    order = [c.gen_id for c in first + second]
    assert len(order) == 12  # the window's 12 requests, though 14 were asked for
    assert [client_of(g) for g in order] == ["client-a", "client-b"] * 6
    assert len({c.budget_member for c in first + second}) == 12
    assert await qredis.zcard(KEYS.upstream_window(CREDENTIAL)) == 12
    assert all(c.record.state == "sending" and c.record.submit_attempts == 1 for c in first + second)
    assert isinstance(await queue.dispatch(LEASE_S, 7), float)  # the rest wait for the window


async def test_a_client_joining_behind_a_long_queue_goes_next(
    qredis: aioredis.Redis, store: AdmittingStore
) -> None:
    queue = fair_queue(qredis)
    await queue_jobs(store, "bulk", 500)
    assert [client_of(g) for g in await drain(queue, limit=10)] == ["bulk"] * 10

    await queue_jobs(store, "a-light", 1)  # a name that wins ties, and one that loses them
    assert await drain(queue, limit=1) == ["a-light-000"]
    await queue_jobs(store, "z-light", 1)
    assert await drain(queue, limit=1) == ["z-light-000"]


async def test_weights_share_the_slots_in_proportion(qredis: aioredis.Redis, store: AdmittingStore) -> None:
    queue = fair_queue(qredis, client_weights={"heavy": 3})
    await queue_jobs(store, "heavy", 60)
    await queue_jobs(store, "light", 60)

    first = Counter(client_of(g) for g in await drain(queue, limit=40))

    assert first == {"heavy": 30, "light": 10}


async def test_leaving_and_rejoining_gains_no_extra_turns(
    qredis: aioredis.Redis, store: AdmittingStore
) -> None:
    queue = fair_queue(qredis)
    await queue_jobs(store, "steady", 20)
    await queue_jobs(store, "z-hopper", 1)  # loses ties to "steady"
    assert await drain(queue, limit=2) == ["steady-000", "z-hopper-000"]

    # Its queue emptied and it comes back at once: it had its turn this round, so it waits for the next.
    await store.create(
        gen_id="z-hopper-001", client_id="z-hopper", request_id="r", request={}, metadata=None, warnings=[]
    )
    assert await drain(queue, limit=2) == ["steady-001", "z-hopper-001"]


async def test_a_claim_moves_the_job_to_sending_under_a_lease(
    qredis: aioredis.Redis, store: AdmittingStore
) -> None:
    queue = fair_queue(qredis)
    await queue_jobs(store, "svc", 1)
    before = time.time()

    claims = await queue.dispatch(LEASE_S)

    assert isinstance(claims, list)
    [claim] = claims
    assert (claim.gen_id, claim.probe) == ("svc-000", False)
    assert (claim.record.state, claim.record.client_id) == ("sending", "svc")
    record = await store.get("svc-000")
    assert record is not None
    assert (record.state, record.status, record.submit_attempts, record.seq) == ("sending", "queued", 1, 1)
    lease = await qredis.zscore(KEYS.schedule, "submit:svc-000")
    assert lease is not None
    assert before + LEASE_S <= lease <= time.time() + LEASE_S
    assert await queue.dispatch(LEASE_S) is None


async def test_a_requeued_job_goes_back_to_the_front_of_its_clients_queue(
    qredis: aioredis.Redis, store: AdmittingStore
) -> None:
    queue = fair_queue(qredis)
    await queue_jobs(store, "svc", 3)
    assert await drain(queue, limit=1) == ["svc-000"]

    assert await queue.requeue("svc-000", from_state="sending")
    assert not await queue.requeue("svc-000", from_state="sending")  # it is queued now

    assert await qredis.zscore(KEYS.schedule, "submit:svc-000") is None
    assert await drain(queue) == ["svc-000", "svc-001", "svc-002"]


async def test_a_canceled_job_is_skipped_without_spending_budget(
    qredis: aioredis.Redis, store: AdmittingStore
) -> None:
    queue = fair_queue(qredis, rpm=10, rpd=100, upstream_burst=10)
    await queue_jobs(store, "svc", 2)
    assert (await store.transition("svc-000", allowed="queued", to="canceled"))[0]

    assert await drain(queue) == ["svc-001"]
    assert await qredis.zcard(KEYS.upstream_window(CREDENTIAL)) == 1


async def test_nothing_waiting_spends_nothing(qredis: aioredis.Redis, store: AdmittingStore) -> None:
    queue = fair_queue(qredis, rpm=1, rpd=1)
    assert await queue.dispatch(LEASE_S) is None
    await queue_jobs(store, "svc", 2)
    assert await drain(queue) == ["svc-000"]  # the budget's one request went to a job


async def test_jobs_wait_for_the_paced_budget(qredis: aioredis.Redis, store: AdmittingStore) -> None:
    queue = fair_queue(qredis, rpm=120, upstream_burst=1)  # one every 0.5 s
    await queue_jobs(store, "svc", 3)

    assert len(await claimed(queue)) == 1
    wait = await queue.dispatch(LEASE_S)
    assert wait == pytest.approx(0.5, abs=0.05)
    assert isinstance(wait, float)
    await asyncio.sleep(wait)
    assert len(await claimed(queue, limit=3)) == 1  # a batch takes only what the pace allows


async def test_an_open_breaker_holds_every_job_then_lets_one_probe_through(
    qredis: aioredis.Redis, store: AdmittingStore
) -> None:
    queue = fair_queue(qredis, breaker_failures=2, breaker_cooldown_s=0.3)
    await queue_jobs(store, "svc", 3)
    assert await queue.breaker.record(False, probe=False, reason="503") == ""
    assert await queue.breaker.record(False, probe=False, reason="503") == "opened"

    wait = await queue.dispatch(LEASE_S)
    assert isinstance(wait, float)
    assert 0.1 < wait <= 0.3
    await asyncio.sleep(wait + 0.05)
    [probe] = await claimed(queue, limit=3)  # the probe goes alone
    assert probe.probe
    assert isinstance(await queue.dispatch(LEASE_S), float)  # one probe at a time

    assert await queue.breaker.record(True, probe=True) == "closed"
    assert await drain(queue) == ["svc-001", "svc-002"]


async def test_positions_are_the_order_jobs_are_then_sent_in(
    qredis: aioredis.Redis, store: AdmittingStore
) -> None:
    queue = fair_queue(qredis, client_weights={"big": 2})
    ids = [
        *await queue_jobs(store, "big", 12),
        *await queue_jobs(store, "mid", 7),
        *await queue_jobs(store, "one", 1),
        *await queue_jobs(store, "few", 3),
    ]
    await drain(queue, limit=3)  # some turns taken, so the passes differ
    queued = [i for i in ids if (r := await store.get(i)) is not None and r.state == "queued"]
    positions = {}
    for gen_id in queued:
        record = await store.get(gen_id)
        assert record is not None
        positions[gen_id], eta_s = await estimate(queue, record)
        assert eta_s == 0.0  # no limit configured

    order = await drain(queue)

    assert sorted(positions.values()) == list(range(len(queued)))
    assert {gen_id: order.index(gen_id) for gen_id in queued} == positions


async def test_a_job_claimed_after_it_was_read_is_placed_as_being_sent(
    qredis: aioredis.Redis, store: AdmittingStore
) -> None:
    """The 202 reads a job's place right after admitting it; a dispatcher may have claimed it in between.
    Its `submit:` entry is then the send's lease, not a back-off to wait out: ETA 0, not the lease."""
    queue = fair_queue(qredis, rpm=30)
    await queue_jobs(store, "svc", 2)
    read = await store.get("svc-000")  # as the gateway read it: queued
    assert read is not None and read.state == "queued"

    [claim] = await claimed(queue)

    assert claim.gen_id == "svc-000"
    assert await estimate(queue, read) == (0, 0.0)
    later = await store.get("svc-001")
    assert later is not None
    assert await estimate(queue, later) == (0, pytest.approx(2.0, abs=0.1))  # the next paced slot


async def test_a_dispatch_sent_again_after_its_answer_was_lost_claims_nothing_more(
    qredis: aioredis.Redis, store: AdmittingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """redis-py sends a command again when its answer was lost (a cut connection, a frozen Redis that then
    runs both): the second run of one dispatch call answers the first run's claims and claims no more."""
    queue = fair_queue(qredis)
    ids = await queue_jobs(store, "client-a", 3)
    moment = datetime.now(UTC)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return moment

    monkeypatch.setattr("ffgate.budget.fair_queue.datetime", Frozen)
    monkeypatch.setattr("ffgate.budget.fair_queue.secrets.token_hex", lambda n: "same")
    first = await claimed(queue, limit=2)
    again = await claimed(queue, limit=2)  # the very same command, as a resend is
    assert [c.gen_id for c in first] == ids[:2]
    assert [c.gen_id for c in again] == ids[:2]
    assert [c.budget_member for c in again] == [c.budget_member for c in first]
    assert all(c.record is not None and c.record.state == "sending" for c in again)
    assert await qredis.hget(KEYS.generation(ids[2]), "state") == b"queued"  # not taken by the resend
    assert await qredis.zcard(KEYS.schedule) == 2


async def test_an_admission_sent_again_after_its_answer_was_lost_queues_the_job_once(
    qredis: aioredis.Redis, store: AdmittingStore
) -> None:
    """A frozen Redis may run the first admission and then its resend after a dispatcher has taken the job:
    the resend must not write the record again (that would queue it a second time: sent twice)."""

    async def admit() -> None:
        await store.create(
            gen_id="client-a-000",
            client_id="client-a",
            request_id="r",
            request={},
            metadata=None,
            warnings=[],
        )

    queue = fair_queue(qredis)
    await admit()
    assert [c.gen_id for c in await claimed(queue)] == ["client-a-000"]
    await admit()  # the same call again
    assert await qredis.hget(KEYS.generation("client-a-000"), "state") == b"sending"
    assert await drain(queue) == []
    assert await qredis.zcard(KEYS.client_generations("client-a")) == 1
