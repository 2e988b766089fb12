"""When a webhook delivery is tried: scheduled in the same Lua step as the change it reports
(`lua/lib/deliveries.lua`, shared by the transition and admission scripts), retried with back-off, and sent
again on request (`Deliveries.redeliver`).
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from ffgate.config import Settings
from ffgate.redis.keys import Keys
from ffgate.redis.scripts import Script

DELIVERY_TTL_S = 48 * 3600  # how long a message (its body, attempts and outcome) is kept


def retry_delay(settings: Settings, attempt: int, first_at: float, now: float) -> float | None:
    """Seconds until the next try after failed attempt number `attempt` (1-based); None: give up.

    By default about 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every 2 h for 24 h, each +-20%.
    """
    if now - first_at >= settings.webhook_retry_for_s:
        return None
    delays = settings.webhook_retry_delays_s
    base = delays[attempt - 1] if attempt <= len(delays) else settings.webhook_retry_every_s
    return base * random.uniform(0.8, 1.2)


@dataclass(frozen=True)
class Message:
    """One webhook message: an event of a generation, its attempts so far, and its body once built."""

    webhook_id: str
    gen_id: str
    event: str
    attempt: int
    first_at: float
    body: str | None


class Deliveries:
    """Every read and write of webhook deliveries in Redis (their creation is Lua, see the module doc)."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, log_ttl_s: int) -> None:
        self._redis = redis
        self._keys = keys
        self._log_ttl_s = log_ttl_s
        self._redeliver = Script(redis, "redeliver")
        self._claim = Script(redis, "claim_delivery_attempt")

    async def message(self, webhook_id: str) -> Message | None:
        key = self._keys.delivery(webhook_id)
        raw: dict[bytes, bytes] = await self._redis.hgetall(key)  # type: ignore[assignment]
        if not raw:
            return None
        f = {k.decode(): v.decode() for k, v in raw.items()}
        return Message(
            webhook_id, f["genId"], f["event"], int(f["attempt"]), float(f["firstAt"]), f.get("body")
        )

    async def claim(self, message: Message) -> bool:
        """Take the message's next attempt, unless another worker already did (its lease on the entry ran
        out while it waited for a delivery slot)."""
        key = self._keys.delivery(message.webhook_id)
        return bool(await self._claim(keys={"delivery": key}, args={"attempt": str(message.attempt)}))

    async def keep_body(self, message: Message, body: str) -> None:
        """Built once, at the first attempt, and sent unchanged on every retry."""
        await self._redis.hset(self._keys.delivery(message.webhook_id), "body", body)

    async def record(self, message: Message, attempt: dict[str, Any], next_at: float | None) -> None:
        """Log an attempt and schedule the next one (None: this was the last)."""
        log_key = self._keys.delivery_log(message.gen_id)
        member = f"deliver:{message.webhook_id}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.rpush(log_key, json.dumps(attempt, separators=(",", ":")))
        pipe.expire(log_key, self._log_ttl_s)
        if next_at is None:
            pipe.zrem(self._keys.schedule, member)
        else:
            pipe.zadd(self._keys.schedule, {member: next_at})
        await pipe.execute()

    async def drop(self, webhook_id: str) -> None:
        """Unschedule a delivery whose generation (or its webhook) is gone."""
        await self._redis.zrem(self._keys.schedule, f"deliver:{webhook_id}")

    async def attempts(self, gen_id: str) -> list[dict[str, Any]]:
        """Every attempt for a generation, oldest first."""
        raw: list[bytes] = await self._redis.lrange(self._keys.delivery_log(gen_id), 0, -1)  # type: ignore[assignment]
        return [json.loads(item) for item in raw]

    async def redeliver(self, gen_id: str, webhook_id: str, status: str) -> None:
        """Send a generation's last webhook event again, with its `webhook-id`, retried as a new series."""
        await self._redeliver(
            keys={"delivery": self._keys.delivery(webhook_id), "schedule": self._keys.schedule},
            args={
                "delivery_prefix": self._keys.delivery(""),
                "wid": webhook_id,
                "gen_id": gen_id,
                "event": f"generation.{status}",  # if the message has expired: rebuilt from the job now
                "now": time.time(),
                "delivery_ttl": DELIVERY_TTL_S,
                "wake": self._keys.wake,
            },
        )
