"""Rate limits counted in Redis, so every process enforces one limit (atomic Lua scripts).

Two limits use the same sliding 60 s window (`SLIDING_WINDOW`, a sorted set of request times):
- the Adobe org's budget, for every worker at once: the window and a per-UTC-day count per Adobe credential,
  plus a pause that a 429 from Firefly sets for the time it asked for. `UpstreamBudget.acquire` either takes
  one request from the budget or says how long to wait;
- each API client's request rate, checked by the same script that authenticates it (service.api_clients);
  `RateLimitState` is what that check saw, as `RateLimit-*` headers.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from service.keys import Keys

SLIDING_WINDOW = """
-- Requests of the last 60 s in a sorted set scored by their time (ms). Exact; costs one entry per request.
local function window_wait(key, now, limit)  -- ms until a request may be taken (0: now), requests in window
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - 60000)
  local used = redis.call('ZCARD', key)
  if used < limit then return 0, used end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + 60000 - now), used
end
local function window_take(key, now, member)  -- count a request; returns ms until the oldest one leaves
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, 61000)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + 60000 - now)
end
"""

_ACQUIRE = (
    SLIDING_WINDOW
    + """
local now = tonumber(ARGV[1])
local rpm, rpd = tonumber(ARGV[2]), tonumber(ARGV[3])
local paused = redis.call('PTTL', KEYS[3])
if paused > 0 then return paused end
if rpm > 0 then
  local wait = window_wait(KEYS[1], now, rpm)
  if wait > 0 then return wait end
end
if rpd > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= rpd then
  return math.max(1, tonumber(ARGV[5]))
end
if rpm > 0 then window_take(KEYS[1], now, ARGV[4]) end
if rpd > 0 then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], 172800)
end
return 0
"""
)

_PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""


@dataclass(frozen=True)
class RateLimitState:
    """One client's request window as its last request left it."""

    limit: int
    used: int
    reset_ms: int  # until the oldest request in the window leaves it (a slot frees)
    refused: bool

    @property
    def reset_s(self) -> int:
        return max(1, math.ceil(self.reset_ms / 1000))

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "RateLimit-Reset": str(self.reset_s),
        }


def seconds_to_utc_midnight(now: datetime | None = None) -> float:
    now = now or datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


def utc_day(now: datetime | None = None) -> str:
    """YYYYMMDD (formatted by hand: strftime costs more than the rest of a quota check in Python)."""
    now = now or datetime.now(UTC)
    return f"{now.year:04d}{now.month:02d}{now.day:02d}"


class UpstreamBudget:
    def __init__(self, redis: aioredis.Redis, keys: Keys, client_id: str, rpm: int, rpd: int) -> None:
        self._keys = keys
        self._client_id = client_id
        self._rpm = rpm
        self._rpd = rpd
        self._acquire = redis.register_script(_ACQUIRE)
        self._pause = redis.register_script(_PAUSE)

    async def acquire(self) -> float:
        """0 when a request may be sent now (and it is counted), else the seconds to wait first."""
        now = datetime.now(UTC)
        keys = [
            self._keys.upstream_window(self._client_id),
            self._keys.upstream_day(self._client_id, utc_day(now)),
            self._keys.upstream_pause(self._client_id),
        ]
        now_ms = int(time.time() * 1000)
        until_midnight_ms = int(seconds_to_utc_midnight(now) * 1000)
        args: list[str | int] = [
            now_ms,
            self._rpm,
            self._rpd,
            f"{now_ms}-{secrets.token_hex(4)}",
            until_midnight_ms,
        ]
        wait_ms = await self._acquire(keys=keys, args=args)
        return int(wait_ms) / 1000

    async def pause(self, seconds: float) -> None:
        """Stop every worker sending for `seconds` (Firefly answered 429 with this retry-after)."""
        await self._pause(
            keys=[self._keys.upstream_pause(self._client_id)], args=[max(1, int(seconds * 1000))]
        )
