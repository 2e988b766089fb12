"""The generation record in Redis, shared by the gateway and the worker.

A record is one hash, `gen:<id>`; its `state` follows ffgate.generations.states. Every change of the public
status goes through one Lua script (`lua/transition.lua`), so two processes can never both move a job (a
poll result racing a cancel, two workers claiming one submit); queued <-> sending, which clients never see,
are made by the fair queue's scripts (ffgate.budget.fair_queue). A change of the public status bumps `seq`,
is published on `events:<id>` (ffgate.generations.changefeed) and schedules the webhook delivery of that
event in the same step.

A queued job waits in its client's queue (ffgate.budget.fair_queue), from which the workers' dispatchers
take jobs in a fair order as the budget allows. Other work lives in one sorted set, `schedule`, scored by
when it is due: `poll:<id>` for a job Firefly holds, `submit:<id>` for a job being sent (a lease) or waiting
out a back-off, `deliver:<webhook-id>` for a webhook delivery. A worker that claims an entry pushes its score
one lease ahead, so the entry comes back by itself if that worker dies: a non-terminal job is always in a
queue, has an entry, or is being handled under a lease. A job is created (record, its client's queue, the
client's listing index) by ffgate.generations.admission, in the same Lua script that authenticates the
caller and checks its quota and `Idempotency-Key`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError
from rq import Queue, Retry

from ffgate import metrics
from ffgate.clock import utcnow
from ffgate.generations.states import TERMINAL, State, Status, public_status
from ffgate.redis.keys import Keys
from ffgate.redis.scripts import Script
from ffgate.webhooks.schedule import DELIVERY_TTL_S

CANCEL_TASK = "worker.tasks.cancel_generation"
# RQ retries a cancel at these intervals (s) while Firefly is unreachable, then keeps it in the failed
# registry for a week (`rq info`); the worker runs RQ's scheduler, which these intervals need.
CANCEL_RETRY_INTERVALS_S = [5, 15, 60, 300, 900]


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _optional_json(raw: str) -> Any:
    return json.loads(raw) if raw else None


def _optional_float(raw: str) -> float | None:
    return float(raw) if raw else None


def _events(raw: str) -> list[str]:
    return [e for e in raw.split(",") if e]


# The one mapping between a record's attributes and its hash fields: (attribute, field, decode, encode).
# A field that is absent or empty decodes to the attribute's default.
_Codec = tuple[str, str, Callable[[str], Any], Callable[[Any], str]]
_FIELDS: tuple[_Codec, ...] = (
    ("id", "id", str, str),
    ("state", "state", State, str),
    ("client_id", "clientId", str, str),
    ("request_id", "requestId", str, str),
    ("created_at", "createdAt", str, str),
    ("updated_at", "updatedAt", str, str),
    ("completed_at", "completedAt", str, str),
    ("request", "request", json.loads, _json),
    ("metadata", "metadata", _optional_json, _json),
    ("warnings", "warnings", json.loads, _json),
    ("seq", "seq", int, str),
    ("upstream_job_id", "upstreamJobId", str, str),
    ("status_url", "statusUrl", str, str),
    ("cancel_url", "cancelUrl", str, str),
    ("submitted_at", "submittedAt", _optional_float, repr),
    ("outputs", "outputs", json.loads, _json),
    ("error", "error", _optional_json, _json),
    ("cancel_requested", "cancelRequested", lambda raw: raw == "1", lambda v: "1" if v else ""),
    ("submit_attempts", "submitAttempts", int, str),
    ("submit_failures", "submitFailures", int, str),
    ("enqueued_at", "enqueuedAt", _optional_float, repr),
    ("poll_errors", "pollErrors", int, str),
    ("polls", "polls", int, str),
    ("last_polled_at", "lastPolledAt", _optional_float, repr),
    ("webhook_url", "webhookUrl", str, str),
    ("webhook_events", "webhookEvents", _events, lambda v: "," + ",".join(v) + "," if v else ""),
    ("last_webhook_id", "lastWebhookId", str, str),
    ("reuse_fingerprint", "reuseFingerprint", str, str),
    ("reused_from", "reusedFrom", str, str),
)


@dataclass
class Record:
    """A generation as stored. Empty values are not stored, and an absent field reads as empty."""

    id: str
    state: State
    created_at: str
    client_id: str = ""
    request_id: str = ""
    updated_at: str = ""  # read as `created_at` until the first change
    completed_at: str | None = None
    request: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    seq: int = 0
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
    reuse_fingerprint: str | None = None  # set when every seed is pinned (ffgate.generations.outputs)
    reused_from: str | None = None  # the generation whose stored outputs answered this one

    @property
    def status(self) -> Status:
        return public_status(self.state)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @classmethod
    def from_hash(cls, raw: dict[bytes, bytes]) -> Record:
        h = {k.decode(): v.decode() for k, v in raw.items()}
        record = cls(**{attr: decode(h[name]) for attr, name, decode, _ in _FIELDS if h.get(name)})
        record.updated_at = record.updated_at or record.created_at
        return record

    def to_hash(self) -> dict[str, str]:
        """The record's fields as stored."""
        return {
            name: encode(value)
            for attr, name, _, encode in _FIELDS
            if (value := getattr(self, attr)) not in _EMPTY
        }


_EMPTY: tuple[Any, ...] = (None, "", 0, False, [])  # a dict is kept even empty: `metadata: {}` stays `{}`


def _observe(to: str, fields: dict[str, Any] | None, created: str, submitted: str) -> None:
    """Count a generation sent or finished, with the time it spent in each stage."""
    now = time.time()
    created_at = datetime.fromisoformat(created).timestamp() if created else None
    if to == State.SUBMITTED:
        metrics.generation_sent(created_at, now)
        return
    err = (fields or {}).get("error")
    code = (json.loads(err) if isinstance(err, str) else err or {}).get("code")
    metrics.generation_finished(
        str(to), code, created_at=created_at, submitted_at=float(submitted) if submitted else None, now=now
    )


def enqueue_cancel(queue: Queue, gen_id: str) -> None:
    """Queue the RQ job that asks Firefly to cancel `gen_id`, retried while Firefly is unreachable."""
    queue.enqueue_call(
        CANCEL_TASK,
        args=(gen_id,),
        timeout=60,
        result_ttl=0,
        failure_ttl=7 * 24 * 3600,
        retry=Retry(max=len(CANCEL_RETRY_INTERVALS_S), interval=CANCEL_RETRY_INTERVALS_S),
    )


class JobStore:
    """Async access to records and the schedule (gateway routes and the worker's event loop)."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, result_ttl_s: int) -> None:
        self._redis = redis
        self.keys = keys
        self._ttl = result_ttl_s
        self._transition = Script(redis, "transition")
        self._claim = Script(redis, "claim_due")
        self._page = Script(redis, "client_page")

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
        ok, before, _ = await self._change(gen_id, allowed, to, fields, schedule)
        return ok, before

    async def submitted(self, gen_id: str, fields: dict[str, Any], schedule: str) -> tuple[bool, bool]:
        """`sending` -> `submitted` with Firefly's answer in `fields`: (applied, whether a cancel was asked
        for while it was being sent), read in the same step, so no cancel slips between the two."""
        ok, _, cancel = await self._change(gen_id, (State.SENDING,), State.SUBMITTED, fields, schedule)
        return ok, cancel

    async def _change(
        self,
        gen_id: str,
        allowed: tuple[str, ...] | str,
        to: str,
        fields: dict[str, Any] | None,
        schedule: str,
    ) -> tuple[bool, str, bool]:
        rest: list[str] = []
        for name, value in (fields or {}).items():
            rest += [name, value if isinstance(value, str) else _json(value)]
        ok, before, *after = await self._transition(
            keys={"record": self.keys.generation(gen_id), "schedule": self.keys.schedule},
            args={
                "allowed": allowed if isinstance(allowed, str) else ",".join(allowed),
                "to": to,
                "now_iso": utcnow(),
                "schedule_op": schedule,
                "result_ttl": self._ttl,
                "channel": self.keys.events(gen_id),
                "gen_id": gen_id,
                "delivery_prefix": self.keys.delivery(""),
                "delivery_ttl": DELIVERY_TTL_S,
                "now": time.time(),
                "wake": self.keys.wake,
            },
            rest=rest,
        )
        text = [t.decode() if isinstance(t, bytes) else str(t) for t in after]
        if ok and to in (State.SUBMITTED, *TERMINAL):
            _observe(to, fields, text[0], text[1])
        before_text = before.decode() if isinstance(before, bytes) else str(before)
        return bool(ok), before_text, bool(text) and text[2] == "1"

    async def get_many(self, gen_ids: list[str]) -> list[Record | None]:
        pipe = self._redis.pipeline(transaction=False)
        for gen_id in gen_ids:
            pipe.hgetall(self.keys.generation(gen_id))
        rows: list[dict[bytes, bytes]] = await pipe.execute()
        return [Record.from_hash(raw) if raw else None for raw in rows]

    def _page_call(self, client_id: str, below: int | None, count: int) -> dict[str, Any]:
        return {
            "keys": {"index": self.keys.client_generations(client_id)},
            "args": {
                "below": "+inf" if below is None else f"({below}",
                "count": count,
                "record_prefix": self.keys.generation(""),
            },
        }

    async def page(
        self, client_id: str, below: int | None, count: int
    ) -> list[tuple[str, int, Record | None]]:
        """Up to `count` of the client's jobs, newest first, created before position `below`, with their
        records (None: expired) in one round trip."""
        return self._rows(await self._page(**self._page_call(client_id, below, count)))

    async def newest_pages(
        self, client_ids: Sequence[str], count: int
    ) -> list[list[tuple[str, int, Record | None]]]:
        """`page(client, None, count)` of every client, all in one round trip (a pipeline): an operator's
        view of hundreds of clients costs one call, not one connection each."""
        pipe = self._redis.pipeline(transaction=False)
        for client_id in client_ids:
            await self._page(**self._page_call(client_id, None, count), client=pipe)
        try:
            answers = await pipe.execute()
        except NoScriptError:  # Redis restarted or failed over: its script cache is empty
            self._page.forget_loaded()
            return await self.newest_pages(client_ids, count)
        return [self._rows(rows) for rows in answers]

    @staticmethod
    def _rows(rows: list[Any]) -> list[tuple[str, int, Record | None]]:
        found = []
        for i in range(0, len(rows), 3):
            flat = rows[i + 2]
            raw = dict(zip(flat[::2], flat[1::2], strict=True))
            found.append((rows[i].decode(), int(float(rows[i + 1])), Record.from_hash(raw) if raw else None))
        return found

    async def forget(self, client_id: str, gen_ids: list[str]) -> None:
        """Drop expired jobs from the client's index."""
        await self._redis.zrem(self.keys.client_generations(client_id), *gen_ids)

    async def schedule(self, kind: str, gen_id: str, due: float) -> None:
        await self._redis.zadd(self.keys.schedule, {f"{kind}:{gen_id}": due})

    async def claim_due(self, limit: int, lease_s: float) -> list[str]:
        now = time.time()
        due = await self._claim(
            keys={"schedule": self.keys.schedule},
            args={"now": now, "limit": limit, "lease_end": now + lease_s},
        )
        return [m.decode() for m in due]

    async def next_due(self) -> float | None:
        first = await self._redis.zrange(self.keys.schedule, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def unschedule(self, member: str) -> None:
        await self._redis.zrem(self.keys.schedule, member)
