"""API keys: how they are made, stored and looked up.

A key is random (`ffk_` + 256 bits), shown once, and stored only as its keyed hash, HMAC-SHA256(pepper,
key), in the client's record and as the name of the index entry `apikey:<hash>` that leads to it. A leaked
Redis dump yields no usable key, and nobody can compute a key's hash without the pepper
(`FFGATE_KEY_PEPPER`, else derived from `FFGATE_ADMIN_KEY`; every gateway and `ffgate clients` must share
it). A request's key is hashed, looked up by that hash and compared with the record's in constant time, by
one Lua function (`lua/lib/authenticate.lua`) that also counts the request against the client's rate limit:
one round trip, and nothing cached in a process, so revocation, new scopes and limits apply to the next
request on every gateway. The submit path runs the same function inside the script that writes the job
(ffgate.generations.admission).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ffgate.clients.rate_limit import RateLimitState
from ffgate.config import Settings
from ffgate.errors import ServiceUnavailable
from ffgate.redis.keys import Keys
from ffgate.redis.scripts import Script

log = logging.getLogger(__name__)


def pepper_from(settings: Settings) -> bytes | None:
    """The secret API keys are hashed with: FFGATE_KEY_PEPPER, else derived from FFGATE_ADMIN_KEY."""
    if settings.key_pepper is not None:
        return settings.key_pepper.get_secret_value().encode()
    if settings.admin_key is not None:
        admin = settings.admin_key.get_secret_value().encode()
        return hmac.new(admin, b"ffgate api key pepper v1", hashlib.sha256).digest()
    return None


def key_digest(pepper: bytes, key: str) -> str:
    return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()


def new_api_key() -> str:
    return "ffk_" + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True)
class Caller:
    """An active client as its key's lookup found it, with the request counted in its window (or refused)."""

    client_id: str
    scopes: frozenset[str]
    daily_image_quota: int | None
    rate: RateLimitState

    @classmethod
    def from_reply(cls, reply: list[Any]) -> Caller:
        """From what the Lua `authenticate` returned."""
        client_id, scopes, quota, limit, used, wait_ms, refused = reply
        return cls(
            client_id=client_id.decode(),
            scopes=frozenset(scopes.decode().split(",")) - {""},
            daily_image_quota=int(quota) if quota else None,
            rate=RateLimitState(
                limit=int(limit), used=int(used), reset_ms=int(wait_ms), refused=bool(refused)
            ),
        )


class ApiKeys:
    def __init__(self, redis: aioredis.Redis, keys: Keys, pepper: bytes | None) -> None:
        self._redis = redis
        self._keys = keys
        self._pepper = pepper
        self._authenticate = Script(redis, "authenticate")

    def digest(self, key: str) -> str | None:
        """The keyed hash `key` is stored under (None: no pepper, so no client keys)."""
        return key_digest(self._pepper, key) if self._pepper else None

    def issue(self) -> tuple[str, str]:
        """A new API key and its keyed hash."""
        if self._pepper is None:
            raise ServiceUnavailable("API keys need FFGATE_KEY_PEPPER (or FFGATE_ADMIN_KEY) to be set.")
        key = new_api_key()
        return key, key_digest(self._pepper, key)

    def auth_args(self, digest: str) -> tuple[str, dict[str, str]]:
        """The key and arguments of the Lua `authenticate` (lua/lib/authenticate.lua), also run inside
        the admission script."""
        args = {
            "digest": digest,
            "client_prefix": self._keys.client(""),
            "window_prefix": self._keys.client_window(""),
            "member": secrets.token_hex(4),
        }
        return self._keys.api_key(digest), args

    async def authenticate(self, key: str) -> Caller | None:
        """The active client whose API key is `key` (None: unknown or revoked), its request counted."""
        digest = self.digest(key)
        if digest is None:
            return None
        apikey, args = self.auth_args(digest)
        reply = await self._authenticate(keys={"apikey": apikey}, args=args)
        return Caller.from_reply(reply) if reply else None

    @property
    def pepper_id(self) -> str | None:
        """Names the pepper without revealing it, so processes can tell whether they share one."""
        return key_digest(self._pepper, "ffgate pepper id")[:16] if self._pepper else None

    async def announce_pepper(self) -> None:
        """Record which pepper the gateways use (see `pepper_matches`); at start-up, so Redis may be down."""
        if self.pepper_id is None:
            return
        try:
            await self._redis.set(self._keys.pepper_id, self.pepper_id)
        except RedisError as exc:
            log.warning("could not record the key pepper's id (%s)", type(exc).__name__)

    async def pepper_matches(self) -> bool:
        """False when a gateway announced another pepper: keys made here would not work there."""
        announced: Any = await self._redis.get(self._keys.pepper_id)
        return announced is None or bytes(announced).decode() == self.pepper_id
