"""The generation record in Redis and its state machine, shared by the gateway and the worker.

A record is one hash, `gen:<id>`. Its internal `state` is one of

    queued -> sending -> submitted -> running -> succeeded | failed | canceled
       |         |  \\-> queued (429, or a transient upstream error: retried later)
       |         \\---> failed (Firefly refused it, or the outcome of the POST is unknown)
       \\-> canceled (cancel before it left the queue) | failed (queued longer than FFGATE_MAX_QUEUE_S)

`sending` means a worker is POSTing it to Firefly right now; clients see it as `queued`. Every change of
the public status goes through one Lua script (`_TRANSITION`), so two processes can never both move a job (a
poll result racing a cancel, two workers claiming one submit); queued <-> sending, which clients never see,
are made by the fair queue's scripts (ffgate.budget.fair_queue). A change of the public status bumps `seq`
and is
published on `events:<id>`.

A queued job waits in its client's queue (ffgate.budget.fair_queue), from which the workers' dispatchers
take jobs
in a fair order as the budget allows. Other work lives in one sorted set, `schedule`, scored by when it is
due: `poll:<id>` for a job Firefly holds, `submit:<id>` for a job being sent (a lease) or waiting out a
back-off, `deliver:<webhook-id>` for a webhook delivery. A worker that claims an entry pushes its score one
lease ahead, so the entry comes back by itself if that worker dies: a non-terminal job is always in a queue,
has an entry, or is being handled under a lease. A job is created (record, its client's queue, the client's
listing index) by ffgate.generations.admission, in the same Lua script that authenticates the caller and
checks its
quota and `Idempotency-Key`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from rq import Queue, Retry

from ffgate.redis.keys import Keys

CANCEL_TASK = "worker.tasks.cancel_generation"

ACTIVE = ("queued", "sending", "submitted", "running")
TERMINAL = ("succeeded", "failed", "canceled")

_TRANSITION = """
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {0, ''} end
if ARGV[1] ~= '*' and not string.find(',' .. ARGV[1] .. ',', ',' .. cur .. ',', 1, true) then
  return {0, cur}
end
local new = ARGV[2]
for i = 11, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local function public(s) if s == 'sending' then return 'queued' end return s end
if new ~= '' then
  redis.call('HSET', KEYS[1], 'state', new)
  if public(new) ~= public(cur) then
    local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
    redis.call('HSET', KEYS[1], 'updatedAt', ARGV[3])
    redis.call('PUBLISH', ARGV[6], cjson.encode({id = ARGV[7], status = public(new), seq = seq}))
    -- A webhook delivery, created in the same step as the change it reports, so none is ever lost.
    local event = 'generation.' .. public(new)
    local events = redis.call('HGET', KEYS[1], 'webhookEvents')
    if events and string.find(events, ',' .. event .. ',', 1, true) then
      local wid = 'msg_' .. ARGV[7] .. '_' .. seq
      redis.call('HSET', ARGV[8] .. wid, 'genId', ARGV[7], 'event', event, 'attempt', '0', 'firstAt', ARGV[9])
      redis.call('EXPIRE', ARGV[8] .. wid, 172800)
      redis.call('ZADD', KEYS[2], tonumber(ARGV[9]), 'deliver:' .. wid)
      redis.call('HSET', KEYS[1], 'lastWebhookId', wid)
      redis.call('PUBLISH', ARGV[10], 'deliver')
    end
  end
  if new == 'succeeded' or new == 'failed' or new == 'canceled' then
    redis.call('HSET', KEYS[1], 'completedAt', ARGV[3])
    redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
  end
end
local op = ARGV[4]
if op == 'rem' or new == 'succeeded' or new == 'failed' or new == 'canceled' then
  redis.call('ZREM', KEYS[2], 'poll:' .. ARGV[7], 'submit:' .. ARGV[7])
elseif op ~= '' then
  local kind, score = string.match(op, '^(%a+):(.+)$')
  redis.call('ZADD', KEYS[2], tonumber(score), kind .. ':' .. ARGV[7])
  if kind == 'poll' then redis.call('ZREM', KEYS[2], 'submit:' .. ARGV[7]) end
end
return {1, cur}
"""

_CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], member) end
return due
"""


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def public_status(state: str) -> str:
    return "queued" if state == "sending" else state


@dataclass
class Record:
    id: str
    state: str
    client_id: str
    request_id: str
    created_at: str
    updated_at: str
    completed_at: str | None
    request: dict[str, Any]
    metadata: dict[str, Any] | None
    warnings: list[str]
    seq: int
    upstream_job_id: str | None = None
    status_url: str | None = None
    cancel_url: str | None = None
    submitted_at: float | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    cancel_requested: bool = False
    submit_attempts: int = 0
    submit_failures: int = 0
    enqueued_at: float | None = None
    poll_errors: int = 0
    polls: int = 0
    last_polled_at: float | None = None
    webhook_url: str | None = None
    webhook_events: list[str] = field(default_factory=list)
    last_webhook_id: str | None = None

    @property
    def status(self) -> str:
        return public_status(self.state)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @classmethod
    def from_hash(cls, raw: dict[bytes, bytes]) -> Record:
        h = {k.decode(): v.decode() for k, v in raw.items()}

        def num(name: str) -> float | None:
            return float(h[name]) if h.get(name) else None

        return cls(
            id=h["id"],
            state=h["state"],
            client_id=h.get("clientId", ""),
            request_id=h.get("requestId", ""),
            created_at=h["createdAt"],
            updated_at=h.get("updatedAt", h["createdAt"]),
            completed_at=h.get("completedAt") or None,
            request=json.loads(h.get("request", "{}")),
            metadata=json.loads(h["metadata"]) if h.get("metadata") else None,
            warnings=json.loads(h.get("warnings", "[]")),
            seq=int(h.get("seq", "0")),
            upstream_job_id=h.get("upstreamJobId") or None,
            status_url=h.get("statusUrl") or None,
            cancel_url=h.get("cancelUrl") or None,
            submitted_at=num("submittedAt"),
            outputs=json.loads(h.get("outputs", "[]")),
            error=json.loads(h["error"]) if h.get("error") else None,
            cancel_requested=h.get("cancelRequested") == "1",
            submit_attempts=int(h.get("submitAttempts", "0")),
            submit_failures=int(h.get("submitFailures", "0")),
            enqueued_at=num("enqueuedAt"),
            poll_errors=int(h.get("pollErrors", "0")),
            polls=int(h.get("polls", "0")),
            last_polled_at=num("lastPolledAt"),
            webhook_url=h.get("webhookUrl") or None,
            webhook_events=[e for e in h.get("webhookEvents", "").split(",") if e],
            last_webhook_id=h.get("lastWebhookId") or None,
        )


def enqueue_cancel(queue: Queue, gen_id: str) -> None:
    """Queue the RQ job that asks Firefly to cancel `gen_id` (RQ retries it if Firefly is unreachable)."""
    queue.enqueue_call(
        CANCEL_TASK, args=(gen_id,), timeout=60, result_ttl=0, failure_ttl=7 * 24 * 3600, retry=Retry(max=3)
    )


class JobStore:
    """Async access to records and the schedule (gateway routes and the worker's event loop)."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, result_ttl_s: int) -> None:
        self._redis = redis
        self.keys = keys
        self._ttl = result_ttl_s
        self._transition = redis.register_script(_TRANSITION)
        self._claim = redis.register_script(_CLAIM_DUE)

    async def get(self, gen_id: str) -> Record | None:
        raw: dict[bytes, bytes] = await self._redis.hgetall(self.keys.generation(gen_id))  # type: ignore[assignment]
        return Record.from_hash(raw) if raw else None

    async def transition(
        self,
        gen_id: str,
        *,
        allowed: tuple[str, ...] | str,
        to: str = "",
        fields: dict[str, Any] | None = None,
        schedule: str = "",
    ) -> tuple[bool, str]:
        """Apply a change if the current state is in `allowed`; returns (applied, state before)."""
        args: list[str | float] = [
            allowed if isinstance(allowed, str) else ",".join(allowed),
            to,
            utcnow(),
            schedule,
            self._ttl,
            self.keys.events(gen_id),
            gen_id,
            self.keys.delivery(""),
            time.time(),
            self.keys.wake,
        ]
        for name, value in (fields or {}).items():
            args += [name, value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))]
        ok, before = await self._transition(
            keys=[self.keys.generation(gen_id), self.keys.schedule], args=args
        )
        return bool(ok), before.decode() if isinstance(before, bytes) else str(before)

    async def get_many(self, gen_ids: list[str]) -> list[Record | None]:
        pipe = self._redis.pipeline(transaction=False)
        for gen_id in gen_ids:
            pipe.hgetall(self.keys.generation(gen_id))
        rows: list[dict[bytes, bytes]] = await pipe.execute()
        return [Record.from_hash(raw) if raw else None for raw in rows]

    async def owned_by(self, client_id: str, below: int | None, count: int) -> list[tuple[str, int]]:
        """Up to `count` of the client's job ids, newest first, created before position `below`."""
        rows: Any = await self._redis.zrevrangebyscore(
            self.keys.client_generations(client_id),
            "+inf" if below is None else f"({below}",
            "-inf",
            start=0,
            num=count,
            withscores=True,
        )
        return [(member.decode(), int(score)) for member, score in rows]

    async def forget(self, client_id: str, gen_ids: list[str]) -> None:
        """Drop expired jobs from the client's index."""
        await self._redis.zrem(self.keys.client_generations(client_id), *gen_ids)

    async def schedule(self, kind: str, gen_id: str, due: float) -> None:
        await self._redis.zadd(self.keys.schedule, {f"{kind}:{gen_id}": due})

    async def claim_due(self, limit: int, lease_s: float) -> list[str]:
        now = time.time()
        due = await self._claim(keys=[self.keys.schedule], args=[now, limit, now + lease_s])
        return [m.decode() for m in due]

    async def next_due(self) -> float | None:
        first = await self._redis.zrange(self.keys.schedule, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def unschedule(self, member: str) -> None:
        await self._redis.zrem(self.keys.schedule, member)
