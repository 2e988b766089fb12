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
- a pause, set for the time Firefly asked for when it answered 429 (a budget without limits, as status
  calls' is by default, looks it up at most every PAUSE_RECHECK_S per process).

`acquire` takes one request or says how long to wait. The dispatch script runs the same Lua
(`lua/lib/budget.lua`, over the sliding window of `lua/lib/window.lua`) together with its pick of the
next job, so budget is only spent on a job that is sent. `read` returns the
state for ETAs. Times are epoch milliseconds of the callers' clocks (kept in step by NTP).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from ffgate.clock import seconds_to_utc_midnight, utc_day
from ffgate.redis.keys import Keys
from ffgate.redis.reading import Reading
from ffgate.redis.scripts import Script

MINUTE_MS = 60_000
# An unlimited budget (no RPM, no RPD: the default for status calls) holds a request only while paused
# after a 429; a process that found it unpaused trusts that this long before asking Redis again, so polling
# thousands of jobs does not cost a round trip per call. Other processes see a new pause this much later.
PAUSE_RECHECK_S = 0.5


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
        self._unpaused_until = 0.0  # monotonic; see PAUSE_RECHECK_S
        self._acquire = Script(redis, "acquire_budget")
        self._pause = Script(redis, "pause_budget")
        self._settle = Script(redis, "settle_budget")

    def lua_keys(self, now: datetime) -> dict[str, str]:
        """The KEYS of `lua/lib/budget.lua`: window, day, pause, pace."""
        cred = self.client_id
        if self._reads:
            window, pause = self._keys.upstream_reads_window(cred), self._keys.upstream_reads_pause(cred)
        else:
            window, pause = self._keys.upstream_window(cred), self._keys.upstream_pause(cred)
        day = self._keys.upstream_day(cred, utc_day(now)) + (":reads" if self._reads else "")
        pace = self._keys.upstream_pace(cred) + (":reads" if self._reads else "")
        return {"window": window, "day": day, "pause": pause, "pace": pace}

    def lua_args(self, now: datetime) -> dict[str, int | str]:
        """The arguments of `lua/lib/budget.lua`: now (ms), rpm, rpd, burst, ms until UTC midnight."""
        return {
            "now": f"{now.timestamp() * 1000:.3f}",
            "rpm": self.rpm,
            "rpd": self.rpd,
            "burst": self.burst,
            "to_midnight": _to_midnight_ms(now),
        }

    async def acquire(self, member: str | None = None) -> float:
        """0 when a request may be sent now (and it is counted as `member`), else the seconds to wait."""
        unlimited = not (self.rpm or self.rpd)
        if unlimited and time.monotonic() < self._unpaused_until:
            return 0.0
        now = datetime.now(UTC)
        member = member or f"{now.timestamp():.3f}-{secrets.token_hex(4)}"
        args = {**self.lua_args(now), "member": member}
        wait_ms = await self._acquire(keys=self.lua_keys(now), args=args)
        if unlimited and not int(wait_ms):
            self._unpaused_until = time.monotonic() + PAUSE_RECHECK_S
        return int(wait_ms) / 1000

    async def settle(self, member: str) -> None:
        """Firefly answered the request counted as `member`: its window slot runs from now."""
        if self.rpm:
            window = self.lua_keys(datetime.now(UTC))["window"]
            await self._settle(
                keys={"window": window}, args={"now": f"{time.time() * 1000:.3f}", "member": member}
            )

    async def pause(self, seconds: float) -> None:
        """Stop every worker sending for `seconds` (Firefly answered 429 with this retry-after)."""
        self._unpaused_until = 0.0
        pause_key = self.lua_keys(datetime.now(UTC))["pause"]
        await self._pause(keys={"pause": pause_key}, args={"ms": max(1, int(seconds * 1000))})

    async def read(self) -> BudgetState:
        pipe = self._redis.pipeline(transaction=False)
        parse = self.read_into(pipe)
        return parse(await pipe.execute())

    def read_into(self, pipe: Pipeline) -> Reading[BudgetState]:
        """Queue the read on `pipe` (shared with other reads: one round trip); parse its answers after."""
        now = datetime.now(UTC)
        window, day, pause, pace = self.lua_keys(now).values()
        now_ms = now.timestamp() * 1000
        pipe.pttl(pause)
        pipe.get(pace)
        pipe.zrangebyscore(window, f"({now_ms - MINUTE_MS}", "+inf", withscores=True)
        pipe.get(day)

        def parse(answers: list[Any]) -> BudgetState:
            paused_ms, pace_at, entries, used = answers
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

        return Reading(4, parse)


def _to_midnight_ms(now: datetime) -> int:
    return int(seconds_to_utc_midnight(now) * 1000)
