"""The Adobe org's budget, enforced by ffgate itself for every worker at once (Redis-side, atomic).

Per Adobe credential, a request may go when all of these allow it:
- a sliding 60 s window of at most RPM requests. Each entry is stamped again when Firefly's answer arrives
  (`settle`): Adobe counts a request when it arrives, which is no later than its answer, so a slot freed 60 s
  after the answer can never meet a request Adobe still counts;
- pacing (GCRA): requests are spaced 60/RPM seconds apart, `burst` of them back to back at most, so the
  budget is spent evenly and waiting jobs wait in the fair queue (ffgate.budget.fair_queue), not in a race
  for the
  next minute's worth of slots;
- a per-UTC-day count of at most RPD;
- a pause, set for the time Firefly asked for when it answered 429.

`acquire` takes one request or says how long to wait. The dispatch script runs the same Lua (`BUDGET_LUA`)
together with its pick of the next job, so budget is only spent on a job that is sent. `read` returns the
state for ETAs. Times are epoch milliseconds of the callers' clocks (kept in step by NTP).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from ffgate.redis.keys import Keys

MINUTE_MS = 60_000

# Lua functions shared by the scripts that spend the budget. `burst` 0: no pacing (the window alone).
BUDGET_LUA = """
local function budget_wait(win, day, pause, pace, now, rpm, rpd, burst, to_midnight)
  local wait = redis.call('PTTL', pause)
  if wait < 0 then wait = 0 end
  if rpm > 0 then
    if burst > 0 then
      local allow_at = tonumber(redis.call('GET', pace) or '0') - (burst - 1) * 60000 / rpm
      if allow_at - now > wait then wait = allow_at - now end
    end
    redis.call('ZREMRANGEBYSCORE', win, '-inf', now - 60000)
    local n = redis.call('ZCARD', win)
    if n >= rpm then  -- more than rpm only if rpm was lowered meanwhile
      local entry = redis.call('ZRANGE', win, n - rpm, n - rpm, 'WITHSCORES')
      local w = tonumber(entry[2]) + 60000 - now
      if w > wait then wait = w end
    end
  end
  if rpd > 0 and tonumber(redis.call('GET', day) or '0') >= rpd and to_midnight > wait then
    wait = to_midnight
  end
  return wait
end

local function budget_take(win, day, pace, now, rpm, rpd, burst, member)
  if rpm > 0 then
    if burst > 0 then
      local tat = tonumber(redis.call('GET', pace) or '0')
      if tat < now then tat = now end
      tat = tat + 60000 / rpm
      redis.call('SET', pace, string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 60000)
    end
    redis.call('ZADD', win, string.format('%.3f', now), member)
    redis.call('PEXPIRE', win, 180000)
  end
  if rpd > 0 then
    redis.call('INCR', day)
    redis.call('EXPIRE', day, 172800)
  end
end
"""

_ACQUIRE = (
    BUDGET_LUA
    + """
local now, rpm, rpd, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local wait = budget_wait(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now, rpm, rpd, burst, tonumber(ARGV[5]))
if wait > 0 then return math.max(1, math.ceil(wait)) end
budget_take(KEYS[1], KEYS[2], KEYS[4], now, rpm, rpd, burst, ARGV[6])
return 0
"""
)

_PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""

# The answer came back now: Adobe counted the request no later than this.
_SETTLE = """
redis.call('ZADD', KEYS[1], 'XX', 'GT', ARGV[1], ARGV[2])
return 1
"""


@dataclass(frozen=True)
class BudgetState:
    """What the budget looks like at `now` (epoch s), for estimates of when the next requests may go."""

    now: float
    rpm: int
    rpd: int
    burst: int  # 0: no pacing
    paused_until: float
    pace_at: float  # GCRA's theoretical arrival time (0: none)
    window: list[float]  # requests counted in the last 60 s, oldest first (epoch s)
    used_today: int
    next_midnight: float


class UpstreamBudget:
    """One budget of one Adobe credential. `burst` None: no pacing, the window alone (e.g. for reads)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        client_id: str,
        rpm: int,
        rpd: int,
        burst: int | None = None,
        *,
        reads: bool = False,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self.client_id = client_id
        self.rpm = rpm
        self.rpd = rpd
        # Pacing with a burst as large as the window is the window alone.
        self.burst = burst if burst is not None and rpm and burst < rpm else 0
        self._reads = reads
        self._acquire = redis.register_script(_ACQUIRE)
        self._pause = redis.register_script(_PAUSE)
        self._settle = redis.register_script(_SETTLE)

    def lua_keys(self, now: datetime) -> list[str]:
        """KEYS for `BUDGET_LUA`: window, day, pause, pace."""
        cred = self.client_id
        if self._reads:
            window, pause = self._keys.upstream_reads_window(cred), self._keys.upstream_reads_pause(cred)
        else:
            window, pause = self._keys.upstream_window(cred), self._keys.upstream_pause(cred)
        day = self._keys.upstream_day(cred, now.strftime("%Y%m%d")) + (":reads" if self._reads else "")
        return [window, day, pause, self._keys.upstream_pace(cred) + (":reads" if self._reads else "")]

    def lua_args(self, now: datetime) -> list[int | float | str]:
        """ARGV for `BUDGET_LUA`: now (ms), rpm, rpd, burst, ms until UTC midnight."""
        return [f"{now.timestamp() * 1000:.3f}", self.rpm, self.rpd, self.burst, _to_midnight_ms(now)]

    async def acquire(self, member: str | None = None) -> float:
        """0 when a request may be sent now (and it is counted as `member`), else the seconds to wait."""
        now = datetime.now(UTC)
        member = member or f"{now.timestamp():.3f}-{secrets.token_hex(4)}"
        args = [*self.lua_args(now), member]
        wait_ms = await self._acquire(keys=self.lua_keys(now), args=args)
        return int(wait_ms) / 1000

    async def settle(self, member: str) -> None:
        """Firefly answered the request counted as `member`: its window slot runs from now."""
        if self.rpm:
            window = self.lua_keys(datetime.now(UTC))[0]
            await self._settle(keys=[window], args=[f"{time.time() * 1000:.3f}", member])

    async def pause(self, seconds: float) -> None:
        """Stop every worker sending for `seconds` (Firefly answered 429 with this retry-after)."""
        pause_key = self.lua_keys(datetime.now(UTC))[2]
        await self._pause(keys=[pause_key], args=[max(1, int(seconds * 1000))])

    async def read(self) -> BudgetState:
        now = datetime.now(UTC)
        window, day, pause, pace = self.lua_keys(now)
        now_ms = now.timestamp() * 1000
        pipe = self._redis.pipeline(transaction=False)
        pipe.pttl(pause)
        pipe.get(pace)
        pipe.zrangebyscore(window, f"({now_ms - MINUTE_MS}", "+inf", withscores=True)
        pipe.get(day)
        paused_ms, pace_at, entries, used = await pipe.execute()
        return BudgetState(
            now=now.timestamp(),
            rpm=self.rpm,
            rpd=self.rpd,
            burst=self.burst,
            paused_until=now.timestamp() + max(0, paused_ms) / 1000,
            pace_at=float(pace_at) / 1000 if pace_at else 0.0,
            window=[score / 1000 for _, score in entries],
            used_today=int(used or 0),
            next_midnight=now.timestamp() + _to_midnight_ms(now) / 1000,
        )


def _to_midnight_ms(now: datetime) -> int:
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((midnight - now).total_seconds() * 1000)
