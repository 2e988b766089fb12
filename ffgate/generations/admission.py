"""Admitting a generation: everything a submit decides, decided atomically in one Redis round trip.

One Lua script (`lua/admit.lua`), in this order:
  1. who is asking: the API key's client (ffgate.clients.api_keys: active, hash compared in constant
     time), the request counted against its rate limit, and the `generate` scope. Skipped when the caller
     is known already (the bootstrap admin, or a submit that had to authenticate before looking its model
     up in Redis or Firefly);
  2. the `Idempotency-Key` (ffgate.generations.idempotency): a key this client used in the last 24 h
     answers with the job it created, or a 422 for another body, and nothing is written;
  3. the daily image quota: the job's images are counted for the client's UTC day; past the quota, a 429
     `quota-exceeded` and nothing is written;
  4. the write: the record, the job in its client's fair queue (ffgate.budget.fair_queue), its
     `generation.queued` webhook delivery if it asked for one, the client's index entry (scored by
     creation order, for listing its jobs), and the idempotency key.

So of any number of concurrent submits with one Idempotency-Key exactly one creates a job, a job exists
exactly when it is queued, and a submit costs one round trip (see bench/submit_overhead.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from ffgate import metrics
from ffgate.budget.fair_queue import RATE_TAU_S
from ffgate.clients.api_keys import ApiKeys, Caller
from ffgate.clients.authentication import UNKNOWN_KEY, Credentials, Principal, admit
from ffgate.clock import seconds_to_utc_midnight, utc_day, utcnow
from ffgate.errors import QuotaExceeded, Unauthorized
from ffgate.generations.idempotency import IDEMPOTENCY_TTL_S, IdempotencyKey, different_body
from ffgate.generations.records import Record
from ffgate.generations.states import State
from ffgate.redis.keys import Keys
from ffgate.redis.scripts import Script
from ffgate.webhooks.schedule import DELIVERY_TTL_S

SCOPE = "generate"
QUOTA_TTL_S = 2 * 24 * 3600


class Admission:
    def __init__(self, redis: aioredis.Redis, keys: Keys, api_keys: ApiKeys, result_ttl_s: int) -> None:
        self._keys = keys
        self._redis = redis
        self._api_keys = api_keys
        self._result_ttl_s = result_ttl_s
        self._index_ttl_s = 2 * result_ttl_s  # outlives the records it names; listing drops expired ones
        self._admit = Script(redis, "admit")

    async def admit(
        self,
        who: Principal | Credentials,
        *,
        gen_id: str,
        request_id: str,
        request: dict[str, Any],
        metadata: dict[str, Any] | None,
        warnings: list[str],
        images: int,
        idempotency: IdempotencyKey | None,
        webhook: dict[str, Any] | None = None,
        reuse: Reuse | None = None,
    ) -> tuple[Principal, Record | str]:
        """Queue the job if `who` may; returns the principal and the new record, or the id of the job this
        idempotency key created earlier (nothing is written then). With `reuse`, a stored succeeded
        generation of that fingerprint answers the job at once: the record returned is then `succeeded`."""
        k = self._keys
        if isinstance(who, Principal):
            apikey, auth = k.generation(gen_id), dict.fromkeys(_AUTH_ARGS, "")
            client_id, quota = who.client_id, who.daily_image_quota
        else:
            digest = self._api_keys.digest(who.key.get_secret_value())
            if digest is None:
                raise Unauthorized(UNKNOWN_KEY)
            apikey, auth = self._api_keys.auth_args(digest)
            client_id, quota = "", None
        now, due = utcnow(), time.time()
        events = webhook["events"] if webhook is not None else []
        record = Record(
            id=gen_id,
            state=State.QUEUED,
            client_id=client_id,
            request_id=request_id,
            created_at=now,
            updated_at=now,
            request=request,
            metadata=metadata,
            warnings=warnings,
            seq=1,
            enqueued_at=due,
            webhook_url=webhook["url"] if webhook is not None else None,
            webhook_events=events,
            reuse_fingerprint=reuse.fingerprint if reuse else None,
        )
        stored = record.to_hash()
        stored.pop("clientId", None)  # the script writes the client it found
        reply = await self._admit(
            keys={
                "record": k.generation(gen_id),
                "schedule": k.schedule,
                "apikey": apikey,
                "queues": k.queue_clients,
                "passes": k.queue_passes,
                "vtime": k.queue_vtime,
                "rates": k.queue_rates,
            },
            args={
                "client": client_id,
                **auth,
                "quota": -1 if quota is None else quota,
                "gen_id": gen_id,
                "images": images,
                "now": due,
                "fingerprint": idempotency.fingerprint if idempotency else "",
                "index_ttl": self._index_ttl_s,
                "record": json.dumps(stored, separators=(",", ":")),
                "images_key": k.client_images("{c}", utc_day()),
                "index_key": k.client_generations("{c}"),
                "idem_key": k.idempotency("{c}", idempotency.header) if idempotency else "",
                "idem_ttl": IDEMPOTENCY_TTL_S,
                "quota_ttl": QUOTA_TTL_S,
                "scope": SCOPE,
                "delivery_prefix": k.delivery("") if "generation.queued" in events else "",
                "delivery_ttl": DELIVERY_TTL_S,
                "wake": k.wake,
                "queue_prefix": k.queue_prefix,
                "tau": RATE_TAU_S,
                "reuse_key": k.reuse("*" if reuse.across_clients else "{c}", reuse.fingerprint)
                if reuse and reuse.allowed
                else "",
                "gen_prefix": k.generation(""),
                "ref_prefix": k.object_refs_prefix,
                "result_ttl": self._result_ttl_s,
                "now_iso": now,
                "succeeded_webhook": k.delivery("") if "generation.succeeded" in events else "",
            },
        )
        outcome, detail, found = reply[0].decode(), reply[1].decode(), reply[2:]
        if outcome == "unauthorized":
            raise Unauthorized(UNKNOWN_KEY)
        principal = admit(Caller.from_reply(found), SCOPE) if found else who
        assert isinstance(principal, Principal)  # `admit` raised for a refused request
        if outcome == "mismatch":
            assert idempotency is not None
            raise different_body(idempotency.header).for_caller(principal.rate)
        if outcome == "replay":
            return principal, detail
        if outcome == "quota":
            used, limit = detail.split()
            raise QuotaExceeded(
                f"The daily quota of {limit} images is spent ({used} used today, {images} asked for); "
                "it resets at 00:00 UTC.",
                retry_after_s=seconds_to_utc_midnight(),
            ).for_caller(principal.rate)
        if outcome == "reused":  # read back: its outputs and state are the source's
            raw: dict[bytes, bytes] = await self._redis.hgetall(k.generation(gen_id))  # type: ignore[assignment]
            return principal, Record.from_hash(raw)
        record.client_id = detail  # (`lastWebhookId`, when a delivery was made, is only read from Redis)
        metrics.GENERATIONS_CREATED.inc()
        return principal, record


@dataclass(frozen=True)
class Reuse:
    """A request that pins every seed: its fingerprint (ffgate.generations.outputs.reuse_fingerprint),
    whether it may be answered from a stored generation (not with `Cache-Control: no-cache`), and from
    which clients' generations."""

    fingerprint: str
    allowed: bool = True
    across_clients: bool = False


_AUTH_ARGS = ("digest", "client_prefix", "window_prefix", "member")
