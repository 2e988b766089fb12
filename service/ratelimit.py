"""The Adobe org's budget, enforced by ffgate itself for every worker at once (Redis-side, atomic).

A sliding 60 s window and a per-UTC-day count per Adobe credential, plus a pause that a 429 from Firefly
sets for the time it asked for. `acquire` either takes one request from the budget or says how long to wait.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from service.keys import Keys

_ACQUIRE = """
local now = tonumber(ARGV[1])
local rpm, rpd = tonumber(ARGV[2]), tonumber(ARGV[3])
local paused = redis.call('PTTL', KEYS[3])
if paused > 0 then return paused end
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
  if redis.call('ZCARD', KEYS[1]) >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return math.max(1, tonumber(oldest[2]) + 60000 - now)
  end
end
if rpd > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= rpd then
  return math.max(1, tonumber(ARGV[5]))
end
if rpm > 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], 61000)
end
if rpd > 0 then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], 172800)
end
return 0
"""

_PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""


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
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        keys = [
            self._keys.upstream_window(self._client_id),
            self._keys.upstream_day(self._client_id, now.strftime("%Y%m%d")),
            self._keys.upstream_pause(self._client_id),
        ]
        now_ms = int(time.time() * 1000)
        until_midnight_ms = int((midnight - now).total_seconds() * 1000)
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
