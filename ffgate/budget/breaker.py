"""A circuit breaker per Adobe credential, in Redis, shared by every worker and read by `/readyz`.

    closed --(N failed submits in a row, within the window)--> open --(cool-down)--> half-open
    half-open: the next job dispatched is the probe --ok--> closed, --failed--> open again

A failure is a submit that got a 5xx, never reached Firefly, or timed out; any answer from Firefly (a 2xx,
4xx or 429) clears the run of failures. While open, nothing is submitted and jobs stay queued. Only the probe
closes the breaker; if its worker dies, another probe is let through once `probeUntil` passes.
The check itself runs inside the dispatch script (`lua/lib/breaker.lua`), so opening takes effect for
every worker at once.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Literal

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from ffgate.config import Settings
from ffgate.redis.keys import Keys
from ffgate.redis.reading import Reading
from ffgate.redis.scripts import Script


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
        self._record = Script(redis, "record_breaker")

    async def record(self, ok: bool, *, probe: bool, reason: str = "") -> str:
        """Count a submit's outcome; answers 'opened', 'reopened', 'closed' or ''."""
        args = {
            "now": f"{time.time() * 1000:.3f}",
            "outcome": "ok" if ok else "fail",
            "probe": "1" if probe else "0",
            "threshold": self._threshold,
            "window_ms": self._window_ms,
            "cooldown_ms": self._cooldown_ms,
            "reason": reason[:300],
            "nonce": secrets.token_hex(4),
        }
        changed = await self._record(keys={"breaker": self.key, "failures": self._failures}, args=args)
        return changed.decode() if isinstance(changed, bytes) else str(changed)

    async def read(self) -> BreakerState | None:
        """None while closed."""
        pipe = self._redis.pipeline(transaction=False)
        parse = self.read_into(pipe)
        return parse(await pipe.execute())

    def read_into(self, pipe: Pipeline) -> Reading[BreakerState | None]:
        """Queue the read on `pipe` (shared with other reads: one round trip); parse its answers after."""
        pipe.hgetall(self.key)
        return Reading(1, lambda answers: _breaker_state(answers[0]))


def _breaker_state(raw: dict[bytes, bytes]) -> BreakerState | None:
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


def state_name(breaker: BreakerState | None, now: float) -> Literal["closed", "open", "half-open"]:
    """`closed`, `open` (nothing is sent) or `half-open` (the next submit, or one on the wire, probes)."""
    if breaker is None:
        return "closed"
    return "half-open" if breaker.probing or now >= breaker.open_until else "open"
