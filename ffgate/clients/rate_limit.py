"""Each API client's request rate: a sliding 60 s window in Redis, checked by the same script that
authenticates the client (ffgate.clients.api_keys), so every gateway replica enforces one limit; and the
UTC day the
daily image quotas count in. (The Adobe org's budget is ffgate.budget.org_budget.)"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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
