"""Admitting a generation: everything a submit decides, decided atomically in one Redis round trip.

One Lua script, in this order:
  1. who is asking: the API key's client (ffgate.clients.api_keys `AUTHENTICATE`: active, hash compared in
     constant time), the request counted against its rate limit, and the `generate` scope. Skipped when the
     caller is known already (the bootstrap admin, or a submit that had to authenticate before looking its
     model up in Redis or Firefly);
  2. the `Idempotency-Key` (ffgate.generations.idempotency): a key this client used in the last 24 h
  answers with the
     job it created, or a 422 for another body, and nothing is written;
  3. the daily image quota: the job's images are counted for the client's UTC day; past the quota, a 429
     `quota-exceeded` and nothing is written;
  4. the write: the record, its due `submit:` entry in the schedule, the client's index entry (scored by
     creation order, for listing its jobs), and the idempotency key.

So of any number of concurrent submits with one Idempotency-Key exactly one creates a job, a job exists
exactly when it is queued, and a submit costs one round trip (see bench/submit_overhead.py).
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis

from ffgate.budget.fair_queue import ENQUEUE_LUA
from ffgate.clients.api_keys import AUTHENTICATE, ApiKeys, Caller
from ffgate.clients.authentication import UNKNOWN_KEY, Credentials, Principal, admit
from ffgate.clients.rate_limit import seconds_to_utc_midnight, utc_day
from ffgate.errors import QuotaExceeded, Unauthorized
from ffgate.generations.idempotency import IDEMPOTENCY_TTL_S, IdempotencyKey, different_body
from ffgate.generations.records import Record, utcnow
from ffgate.redis.keys import Keys

SCOPE = "generate"
QUOTA_TTL_S = 2 * 24 * 3600

# KEYS: record, schedule, apikey:<hash> (when authenticating; else any key)
# ARGV: 1 client id ('' = authenticate), 2-5 `authenticate` arguments, 6 daily quota (-1: none), 7 job id,
#       8 images, 9 due time, 10 fingerprint, 11 index TTL, 12 record (JSON), 13 images-today key, 14 index
#       key, 15 idempotency key ('': none), 16 idempotency TTL, 17 quota TTL, 18 scope, 19 delivery key
#       prefix when a `generation.queued` webhook is due ('': none), 20 the workers' wake channel, 21 the
#       prefix of the clients' fair queues (ffgate.budget.fair_queue). KEYS 4-7: the fair queue's shared keys.
# Keys 13-15 are templates: '{c}' stands for the client id, known only here when authenticating.
_ADMIT = (
    AUTHENTICATE
    + ENQUEUE_LUA
    + """
local function key(template, client)
  local at = string.find(template, '{c}', 1, true)
  return string.sub(template, 1, at - 1) .. client .. string.sub(template, at + 3)
end
local client, quota, caller = ARGV[1], tonumber(ARGV[6]), {}
if client == '' then
  caller = authenticate(KEYS[3], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
  if not caller then return {'unauthorized', ''} end
  if caller[7] == 1 or not string.find(',' .. caller[2] .. ',', ',' .. ARGV[18] .. ',', 1, true) then
    return {'refused', '', unpack(caller)}
  end
  client = caller[1]
  if caller[3] == '' then quota = -1 else quota = tonumber(caller[3]) end
end
local idem = ''
if ARGV[15] ~= '' then
  idem = key(ARGV[15], client)
  local seen = redis.call('GET', idem)
  if seen then
    local fingerprint, id = string.match(seen, '^(%S+) (%S+)$')
    if fingerprint ~= ARGV[10] then return {'mismatch', '', unpack(caller)} end
    return {'replay', id, unpack(caller)}
  end
end
local images = tonumber(ARGV[8])
if quota >= 0 then
  local counter = key(ARGV[13], client)
  local used = tonumber(redis.call('GET', counter) or '0')
  if used + images > quota then return {'quota', used .. ' ' .. quota, unpack(caller)} end
  redis.call('INCRBY', counter, images)
  redis.call('EXPIRE', counter, tonumber(ARGV[17]))
end
local fields = {'clientId', client}
for name, value in pairs(cjson.decode(ARGV[12])) do
  fields[#fields + 1] = name
  fields[#fields + 1] = value
end
redis.call('HSET', KEYS[1], unpack(fields))
enqueue(ARGV[21], KEYS[4], KEYS[5], KEYS[6], KEYS[7], client, ARGV[7], ARGV[9], tonumber(ARGV[9]), true)
if ARGV[19] ~= '' then  -- the job asked for `generation.queued`: its delivery is created with the job
  local wid = 'msg_' .. ARGV[7] .. '_1'
  redis.call('HSET', ARGV[19] .. wid, 'genId', ARGV[7], 'event', 'generation.queued', 'attempt', '0',
             'firstAt', ARGV[9])
  redis.call('EXPIRE', ARGV[19] .. wid, 172800)
  redis.call('ZADD', KEYS[2], ARGV[9], 'deliver:' .. wid)
  redis.call('HSET', KEYS[1], 'lastWebhookId', wid)
end
redis.call('PUBLISH', ARGV[20], 'submit')
local index = key(ARGV[14], client)
local newest = redis.call('ZREVRANGE', index, 0, 0, 'WITHSCORES')
redis.call('ZADD', index, (tonumber(newest[2]) or 0) + 1, ARGV[7])
redis.call('EXPIRE', index, tonumber(ARGV[11]))
if idem ~= '' then redis.call('SET', idem, ARGV[10] .. ' ' .. ARGV[7], 'EX', tonumber(ARGV[16])) end
return {'created', client, unpack(caller)}
"""
)


class Admission:
    def __init__(self, redis: aioredis.Redis, keys: Keys, api_keys: ApiKeys, result_ttl_s: int) -> None:
        self._keys = keys
        self._api_keys = api_keys
        self._index_ttl_s = 2 * result_ttl_s  # outlives the records it names; listing drops expired ones
        self._admit = redis.register_script(_ADMIT)

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
    ) -> tuple[Principal, Record | str]:
        """Queue the job if `who` may; returns the principal and the new record, or the id of the job this
        idempotency key created earlier (nothing is written then)."""
        keys = [self._keys.generation(gen_id), self._keys.schedule]
        fair = [
            self._keys.queue_clients,
            self._keys.queue_passes,
            self._keys.queue_vtime,
            self._keys.queue_rates,
        ]
        if isinstance(who, Principal):
            keys.append(keys[0])
            auth_args = ["", "", "", ""]
            client_id, quota = who.client_id, who.daily_image_quota
        else:
            digest = self._api_keys.digest(who.key.get_secret_value())
            if digest is None:
                raise Unauthorized(UNKNOWN_KEY)
            apikey, auth_args = self._api_keys.auth_args(digest)
            keys.append(apikey)
            client_id, quota = "", None
        keys += fair
        now, due = utcnow(), time.time()
        record = {
            "id": gen_id,
            "state": "queued",
            "requestId": request_id,
            "createdAt": now,
            "updatedAt": now,
            "request": json.dumps(request, separators=(",", ":")),
            "metadata": json.dumps(metadata, separators=(",", ":")) if metadata is not None else "",
            "warnings": json.dumps(warnings),
            "seq": "1",
            "enqueuedAt": repr(due),
        }
        events: list[str] = []
        if webhook is not None:
            events = webhook["events"]
            record |= {"webhookUrl": webhook["url"], "webhookEvents": "," + ",".join(events) + ","}
        reply = await self._admit(
            keys=keys,
            args=[
                client_id,
                *auth_args,
                -1 if quota is None else quota,
                gen_id,
                images,
                due,
                idempotency.fingerprint if idempotency else "",
                self._index_ttl_s,
                json.dumps(record, separators=(",", ":")),
                self._keys.client_images("{c}", utc_day()),
                self._keys.client_generations("{c}"),
                self._keys.idempotency("{c}", idempotency.header) if idempotency else "",
                IDEMPOTENCY_TTL_S,
                QUOTA_TTL_S,
                SCOPE,
                self._keys.delivery("") if "generation.queued" in events else "",
                self._keys.wake,
                self._keys.queue_prefix,
            ],
        )
        outcome, detail, found = reply[0].decode(), reply[1].decode(), reply[2:]
        if outcome == "unauthorized":
            raise Unauthorized(UNKNOWN_KEY)
        principal = admit(Caller.from_reply(found), SCOPE) if found else who
        assert isinstance(principal, Principal)  # `admit` raised for a refused request
        if outcome == "mismatch":
            assert idempotency is not None
            raise different_body(idempotency.header)
        if outcome == "replay":
            return principal, detail
        if outcome == "quota":
            used, limit = detail.split()
            raise QuotaExceeded(
                f"The daily quota of {limit} images is spent ({used} used today, {images} asked for); "
                "it resets at 00:00 UTC.",
                retry_after_s=seconds_to_utc_midnight(),
            )
        return principal, Record(
            id=gen_id,
            state="queued",
            client_id=detail,
            request_id=request_id,
            created_at=now,
            updated_at=now,
            completed_at=None,
            request=request,
            metadata=metadata,
            warnings=warnings,
            seq=1,
            webhook_url=webhook["url"] if webhook else None,
            webhook_events=events,
            last_webhook_id=f"msg_{gen_id}_1" if "generation.queued" in events else None,
        )
