"""A circuit breaker per Adobe credential, in Redis, shared by every worker and read by `/readyz`.

    closed --(N failed submits in a row, within the window)--> open --(cool-down)--> half-open
    half-open: the next job dispatched is the probe --ok--> closed, --failed--> open again

A failure is a submit that got a 5xx, never reached Firefly, or timed out; any answer from Firefly (a 2xx,
4xx or 429) clears the run of failures. While open, nothing is submitted and jobs stay queued. Only the probe
closes the breaker; if its worker dies, another probe is let through once `probeUntil` passes.
The check itself runs inside the dispatch script (`BREAKER_LUA`), so opening takes effect for every worker
at once.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

from ffgate.config import Settings
from ffgate.redis.keys import Keys

# 0: closed, send; -1: half-open and the caller's request is the probe; > 0: ms until something may go.
BREAKER_LUA = """
local function breaker_wait(key, now)
  local open_until = tonumber(redis.call('HGET', key, 'openUntil') or '0')
  if open_until == 0 then return 0 end
  if now < open_until then return open_until - now end
  local probe_until = tonumber(redis.call('HGET', key, 'probeUntil') or '0')
  if now < probe_until then return probe_until - now end
  return -1
end
"""

# KEYS: breaker, failures. ARGV: now (ms), 'ok'|'fail', probe '1'|'0', threshold, window (ms), cool-down
# (ms), reason. Answers what changed: 'opened', 'reopened', 'closed' or ''.
_RECORD = """
local now = tonumber(ARGV[1])
local open = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[2] == 'ok' then
  redis.call('DEL', KEYS[2])
  if open and ARGV[3] == '1' then
    redis.call('DEL', KEYS[1])
    return 'closed'
  end
  return ''
end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'openUntil', now + tonumber(ARGV[6]), 'probeUntil', 0, 'reason', ARGV[7])
  return 'reopened'
end
if open then return '' end  -- sent before the breaker opened; already counted as far as it matters
redis.call('ZADD', KEYS[2], now, ARGV[1] .. ':' .. ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[5]))
redis.call('PEXPIRE', KEYS[2], math.ceil(tonumber(ARGV[5])))
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'openUntil', now + tonumber(ARGV[6]), 'probeUntil', 0, 'openedAt', now,
    'reason', ARGV[7])
  redis.call('DEL', KEYS[2])
  return 'opened'
end
return ''
"""


@dataclass(frozen=True)
class BreakerState:
    opened_at: float  # epoch s
    open_until: float  # after this, the next submit is a probe
    probing: bool  # a probe is in flight
    reason: str


class Breaker:
    def __init__(self, redis: aioredis.Redis, keys: Keys, client_id: str, settings: Settings) -> None:
        self._redis = redis
        self.key = keys.breaker(client_id)
        self._failures = keys.breaker_failures(client_id)
        self._threshold = settings.breaker_failures
        self._window_ms = settings.breaker_window_s * 1000
        self._cooldown_ms = settings.breaker_cooldown_s * 1000
        # A probe whose worker died is replaced once it could no longer be waiting for Firefly.
        self.probe_ms = (settings.upstream_timeout_s + 5) * 1000
        self._record = redis.register_script(_RECORD)

    async def record(self, ok: bool, *, probe: bool, reason: str = "") -> str:
        """Count a submit's outcome; answers 'opened', 'reopened', 'closed' or ''."""
        args = [
            f"{time.time() * 1000:.3f}",
            "ok" if ok else "fail",
            "1" if probe else "0",
            self._threshold,
            self._window_ms,
            self._cooldown_ms,
            reason[:300],
            secrets.token_hex(4),
        ]
        changed = await self._record(keys=[self.key, self._failures], args=args)
        return changed.decode() if isinstance(changed, bytes) else str(changed)

    async def read(self) -> BreakerState | None:
        """None while closed."""
        raw: dict[bytes, bytes] = await self._redis.hgetall(self.key)  # type: ignore[assignment]
        if not raw:
            return None
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        open_until = float(fields.get("openUntil", "0")) / 1000
        return BreakerState(
            opened_at=float(fields.get("openedAt", "0")) / 1000 or open_until,
            open_until=open_until,
            probing=float(fields.get("probeUntil", "0")) / 1000 > time.time(),
            reason=fields.get("reason", ""),
        )
