"""Fair dispatch of queued jobs to Firefly, shared by every worker (Redis-side, atomic).

A queued job waits in its API client's FIFO, `queue:<client>`: a sorted set of generation ids scored by
when they were queued. Clients with waiting jobs are ordered by stride scheduling: each has a *pass* (a
virtual time) in `queues`; the next job comes from the client with the lowest pass (ties: by client name),
whose pass then grows by `STRIDE / weight`. With equal weights that is round-robin; a client of weight 3 gets
three slots for every one of a client of weight 1. A client that joins starts at the pass of the job sent
last (or at its own old pass, if higher, so that leaving and rejoining gains nothing): a client with one job
never waits behind more than one job of each other client, however many they have queued.

`dispatch` is one Lua script that asks the budget and the breaker whether a request may go now, picks the next
job in that order, spends the budget on it and claims it queued -> sending, with a `submit:<id>` lease in the
schedule: budget is never spent without a job, no job is sent twice, and the job of a worker that dies after
the claim comes due again. It repeats that for up to `limit` jobs while the budget allows, and answers their
records too, so a busy dispatcher pays one round trip for a batch of sends. queued <-> sending are invisible
to clients (both show as `queued`), so the scripts here make them directly; every other change goes through
the transition script of ffgate.generations.records.

Jobs that wait take no worker: each is one sorted-set member. A job whose submit failed before Firefly took
it waits out its back-off as a `submit:<id>` entry in the schedule, then rejoins the front of its client's
queue (`requeue`), keeping its original score, so it keeps its place among its client's jobs.

Like the transition script, these scripts reach keys they compute (a record, a client's queue): they need
one Redis, not a cluster.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from ffgate.budget.breaker import Breaker
from ffgate.budget.org_budget import UpstreamBudget
from ffgate.generations.records import Record
from ffgate.generations.states import State
from ffgate.redis.keys import Keys
from ffgate.redis.scripts import Script

STRIDE = 720_720  # divisible by every weight from 1 to 16, so common weights give exact strides
RATE_TAU_S = 120.0  # time constant of the arrival-rate average kept for ETAs


@dataclass(frozen=True)
class Claim:
    """A job this worker must send now: its budget is spent and it is `sending` under a lease."""

    gen_id: str
    probe: bool  # the breaker's probe: its outcome opens or closes the breaker
    budget_member: str
    record: Record  # as it was claimed (`sending`)


class FairQueue:
    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        budget: UpstreamBudget,
        breaker: Breaker,
        weights: dict[str, int],
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.weights = weights
        self.budget = budget
        self.breaker = breaker
        self._weights = json.dumps(weights)
        self._dispatch = Script(redis, "dispatch")
        self._requeue = Script(redis, "requeue")
        self._remove = Script(redis, "remove_from_queue")
        self._lanes = Script(redis, "queue_lanes")

    async def dispatch(self, lease_s: float, limit: int = 1) -> list[Claim] | float | None:
        """Up to `limit` jobs to send (claimed, in the fair order, as many as the budget allows now), else
        the seconds until one may go, or None when none waits."""
        now = datetime.now(UTC)
        k = self.keys
        member = f"{now.timestamp():.3f}-{secrets.token_hex(4)}"
        keys = {
            **self.budget.lua_keys(now),
            "breaker": self.breaker.key,
            "queues": k.queue_clients,
            "passes": k.queue_passes,
            "vtime": k.queue_vtime,
            "schedule": k.schedule,
            "memo": k.dispatch_memo(member),
        }
        args = {
            **self.budget.lua_args(now),
            "member": member,
            "lease_end": repr(now.timestamp() + lease_s),
            "queue_prefix": k.queue_prefix,
            "record_prefix": k.generation(""),
            "weights": self._weights,
            "probe_ms": self.breaker.probe_ms,
            "stride": STRIDE,
            "limit": limit,
        }
        answer = await self._dispatch(keys=keys, args=args)
        if int(answer[0]) == 0:
            return int(answer[1]) / 1000
        if int(answer[0]) == 1:
            return None
        probe = int(answer[1]) == 1
        found = answer[2:]
        return [
            Claim(
                gen_id=found[i].decode(),
                probe=probe,
                budget_member=f"{member}-{i // 2 + 1}",
                record=Record.from_hash(dict(zip(found[i + 1][::2], found[i + 1][1::2], strict=True))),
            )
            for i in range(0, len(found), 2)
        ]

    async def requeue(self, gen_id: str, *, from_state: State) -> bool:
        """Put a job back at the front of its client's queue; False if it was no longer `from_state`."""
        k = self.keys
        keys = {
            "record": k.generation(gen_id),
            "schedule": k.schedule,
            "queues": k.queue_clients,
            "passes": k.queue_passes,
            "vtime": k.queue_vtime,
            "rates": k.queue_rates,
        }
        args = {
            "gen_id": gen_id,
            "from_state": from_state,
            "queue_prefix": k.queue_prefix,
            "now": repr(time.time()),
            "wake": k.wake,
            "tau": RATE_TAU_S,
        }
        return bool(await self._requeue(keys=keys, args=args))

    async def remove(self, client: str, gen_id: str) -> None:
        k = self.keys
        keys = {"queue": k.queue(client), "queues": k.queue_clients, "passes": k.queue_passes}
        await self._remove(keys=keys, args={"client": client, "gen_id": gen_id})

    async def waiting_since(self, cutoff: float, limit: int = 100) -> list[tuple[str, str]]:
        """(client, id) of queued jobs queued before `cutoff` (epoch s): the fronts of the queues."""
        raw: list[bytes] = await self.redis.zrange(self.keys.queue_clients, 0, -1)  # type: ignore[assignment]
        clients = [c.decode() for c in raw]
        pipe = self.redis.pipeline(transaction=False)
        for client in clients:
            pipe.zrangebyscore(self.keys.queue(client), "-inf", repr(cutoff), start=0, num=limit)
        found = await pipe.execute()
        return [(client, i.decode()) for client, ids in zip(clients, found, strict=True) for i in ids]

    def forget_loaded_scripts(self) -> None:
        """Redis answered NOSCRIPT to a pipeline: load the scripts again before the next one."""
        self._lanes.forget_loaded()

    async def lanes(self, pipe: Pipeline) -> None:
        """Queue, on `pipe`, the read of every client with waiting jobs: name, pass, queue length, ..."""
        keys, args = {"queues": self.keys.queue_clients}, {"queue_prefix": self.keys.queue_prefix}
        await self._lanes(keys=keys, args=args, client=pipe)
