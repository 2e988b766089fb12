"""Fair dispatch of queued jobs to Firefly, shared by every worker (Redis-side, atomic).

A queued job waits in its API client's FIFO, `queue:<client>`: a sorted set of generation ids scored by
when they were queued. Clients with waiting jobs are ordered by stride scheduling: each has a *pass* (a
virtual time) in `queues`; the next job comes from the client with the lowest pass (ties: by client name),
whose pass then grows by `STRIDE / weight`. With equal weights that is round-robin; a client of weight 3 gets
three slots for every one of a client of weight 1. A client that joins starts at the pass of the job sent
last (or at its own old pass, if higher, so that leaving and rejoining gains nothing): a client with one job
never waits behind more than one job of each other client, however many they have queued.

`dispatch` is one Lua script that asks the budget and the breaker whether a request may go now, picks the
next job in that order, spends the budget on it and claims it queued -> sending, with a `submit:<id>` lease in
the schedule: budget is never spent without a job, no job is sent twice, and the job of a worker that dies
after the claim comes due again. queued <-> sending are invisible to clients (both show as `queued`), so the
scripts here make them directly; every other change goes through the transition script of
ffgate.generations.records.

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

from ffgate.budget.breaker import BREAKER_LUA, Breaker
from ffgate.budget.org_budget import BUDGET_LUA, UpstreamBudget
from ffgate.redis.keys import Keys

STRIDE = 720_720  # divisible by every weight from 1 to 16, so common weights give exact strides
RATE_TAU_S = 120.0  # time constant of the arrival-rate average kept for ETAs

# Put a job in its client's queue and the client in the fair order; count the arrival (for ETAs) if asked.
ENQUEUE_LUA = f"""
local function enqueue(prefix, clients, passes, vtime, rates, client, id, score, now_s, arrival)
  redis.call('ZADD', prefix .. client, score, id)
  if not redis.call('ZSCORE', clients, client) then
    local pass = tonumber(redis.call('GET', vtime) or '0')
    local old = tonumber(redis.call('HGET', passes, client) or '0')
    if old > pass then pass = old end
    redis.call('ZADD', clients, string.format('%.0f', pass), client)
  end
  if arrival then  -- a decaying count of arrivals, when it was last counted, and the first arrival
    local count, first, raw = 0, now_s, redis.call('HGET', rates, client)
    if raw then
      local c, at, f = string.match(raw, '^(%S+) (%S+) (%S+)$')
      count = tonumber(c) * math.exp(-math.max(0, now_s - tonumber(at)) / {RATE_TAU_S})
      first = tonumber(f)
    end
    redis.call('HSET', rates, client, string.format('%.6f %.3f %.3f', count + 1, now_s, first))
  end
end
"""

# KEYS: window, day, pause, pace, breaker, queues, passes, vtime, schedule.
# ARGV: 1-5 budget (now ms, rpm, rpd, burst, ms to midnight), 6 budget member, 7 lease end (epoch s),
# 8 queue key prefix, 9 record key prefix, 10 weights (JSON), 11 probe lease (ms).
# Answers {0, ms to wait} | {1} (nothing waits) | {2, id, probe 0|1}.
_DISPATCH = (
    BUDGET_LUA
    + BREAKER_LUA
    + f"""
if redis.call('ZCARD', KEYS[6]) == 0 then return {{1}} end
local now, rpm, rpd, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local wait = budget_wait(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now, rpm, rpd, burst, tonumber(ARGV[5]))
local gate = breaker_wait(KEYS[5], now)
if gate > wait then wait = gate end
if wait > 0 then return {{0, math.max(1, math.ceil(wait))}} end
local weights = cjson.decode(ARGV[10])
while true do
  local top = redis.call('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')
  if #top == 0 then return {{1}} end
  local client, pass = top[1], tonumber(top[2])
  local qkey = ARGV[8] .. client
  local id = redis.call('ZPOPMIN', qkey)[1]
  -- a canceled job may linger in a queue for a moment: skip it without spending anything
  local live = id and redis.call('HGET', ARGV[9] .. id, 'state') == 'queued'
  local next_pass = pass
  if live then next_pass = pass + math.floor({STRIDE} / (tonumber(weights[client]) or 1)) end
  if redis.call('ZCARD', qkey) == 0 then
    redis.call('ZREM', KEYS[6], client)
    redis.call('HSET', KEYS[7], client, string.format('%.0f', next_pass))
  else
    redis.call('ZADD', KEYS[6], string.format('%.0f', next_pass), client)
  end
  if live then
    redis.call('SET', KEYS[8], string.format('%.0f', pass))
    budget_take(KEYS[1], KEYS[2], KEYS[4], now, rpm, rpd, burst, ARGV[6])
    local probe = 0
    if gate < 0 then
      redis.call('HSET', KEYS[5], 'probeUntil', now + tonumber(ARGV[11]))
      probe = 1
    end
    local record = ARGV[9] .. id
    redis.call('HSET', record, 'state', 'sending')
    redis.call('HINCRBY', record, 'submitAttempts', 1)
    redis.call('ZADD', KEYS[9], ARGV[7], 'submit:' .. id)
    return {{2, id, probe}}
  end
end
"""
)

# Back to the front of its client's queue: a job refused with 429 (state `sending`) or one whose back-off
# is over (state `queued`, out of every queue). KEYS: record, schedule, queues, passes, vtime, rates.
# ARGV: id, state it must be in, queue key prefix, now (epoch s), wake channel.
_REQUEUE = (
    ENQUEUE_LUA
    + """
if redis.call('HGET', KEYS[1], 'state') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'queued')
local client = redis.call('HGET', KEYS[1], 'clientId') or ''
local score = redis.call('HGET', KEYS[1], 'enqueuedAt') or ARGV[4]
enqueue(ARGV[3], KEYS[3], KEYS[4], KEYS[5], KEYS[6], client, ARGV[1], score, tonumber(ARGV[4]), false)
redis.call('ZREM', KEYS[2], 'submit:' .. ARGV[1])
redis.call('PUBLISH', ARGV[5], 'submit')
return 1
"""
)

# A job leaves its client's queue (canceled or expired). KEYS: queue, queues, passes. ARGV: client, id.
_REMOVE = """
redis.call('ZREM', KEYS[1], ARGV[2])
if redis.call('ZCARD', KEYS[1]) == 0 then
  local pass = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if pass then
    redis.call('ZREM', KEYS[2], ARGV[1])
    redis.call('HSET', KEYS[3], ARGV[1], pass)
  end
end
return 1
"""

# The clients with waiting jobs: name, pass, queue length, ... KEYS: queues. ARGV: queue key prefix.
_LANES = """
local out = {}
local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #all, 2 do
  out[#out + 1] = all[i]
  out[#out + 1] = all[i + 1]
  out[#out + 1] = redis.call('ZCARD', ARGV[1] .. all[i])
end
return out
"""


@dataclass(frozen=True)
class Claim:
    """A job this worker must send now: its budget is spent and it is `sending` under a lease."""

    gen_id: str
    probe: bool  # the breaker's probe: its outcome opens or closes the breaker
    budget_member: str


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
        self._dispatch = redis.register_script(_DISPATCH)
        self._requeue = redis.register_script(_REQUEUE)
        self._remove = redis.register_script(_REMOVE)
        self._lanes = redis.register_script(_LANES)

    async def dispatch(self, lease_s: float) -> Claim | float | None:
        """The next job to send (claimed), the seconds until one may go, or None when none waits."""
        now = datetime.now(UTC)
        k = self.keys
        member = f"{now.timestamp():.3f}-{secrets.token_hex(4)}"
        keys = [
            *self.budget.lua_keys(now),
            self.breaker.key,
            k.queue_clients,
            k.queue_passes,
            k.queue_vtime,
            k.schedule,
        ]
        args = [
            *self.budget.lua_args(now),
            member,
            repr(now.timestamp() + lease_s),
            k.queue_prefix,
            k.generation(""),
            self._weights,
            self.breaker.probe_ms,
        ]
        answer = await self._dispatch(keys=keys, args=args)
        if int(answer[0]) == 0:
            return int(answer[1]) / 1000
        if int(answer[0]) == 1:
            return None
        return Claim(gen_id=answer[1].decode(), probe=int(answer[2]) == 1, budget_member=member)

    async def requeue(self, gen_id: str, *, from_state: str) -> bool:
        """Put a job back at the front of its client's queue; False if it was no longer `from_state`."""
        k = self.keys
        keys = [
            k.generation(gen_id),
            k.schedule,
            k.queue_clients,
            k.queue_passes,
            k.queue_vtime,
            k.queue_rates,
        ]
        args = [gen_id, from_state, k.queue_prefix, repr(time.time()), k.wake]
        return bool(await self._requeue(keys=keys, args=args))

    async def remove(self, client: str, gen_id: str) -> None:
        k = self.keys
        await self._remove(keys=[k.queue(client), k.queue_clients, k.queue_passes], args=[client, gen_id])

    async def waiting_since(self, cutoff: float, limit: int = 100) -> list[tuple[str, str]]:
        """(client, id) of queued jobs queued before `cutoff` (epoch s): the fronts of the queues."""
        raw: list[bytes] = await self.redis.zrange(self.keys.queue_clients, 0, -1)  # type: ignore[assignment]
        clients = [c.decode() for c in raw]
        pipe = self.redis.pipeline(transaction=False)
        for client in clients:
            pipe.zrangebyscore(self.keys.queue(client), "-inf", repr(cutoff), start=0, num=limit)
        found = await pipe.execute()
        return [(client, i.decode()) for client, ids in zip(clients, found, strict=True) for i in ids]

    async def lanes(self, pipe: Pipeline) -> None:
        """Queue, on `pipe`, the read of every client with waiting jobs: name, pass, queue length, ..."""
        await self._lanes(keys=[self.keys.queue_clients], args=[self.keys.queue_prefix], client=pipe)
