"""API keys: how they are made, stored and looked up.

A key is random (`ffk_` + 256 bits), shown once, and stored only as its keyed hash, HMAC-SHA256(pepper, key),
in the client's record and as the name of the index entry `apikey:<hash>` that leads to it. A leaked Redis
dump yields no usable key, and nobody can compute a key's hash without the pepper (`FFGATE_KEY_PEPPER`, else
derived from `FFGATE_ADMIN_KEY`; every gateway and `ffgate clients` must share it). A request's key is hashed,
looked up by that hash and compared with the record's in constant time, by one Lua function (`AUTHENTICATE`)
that also counts the request against the client's rate limit: one round trip, and nothing cached in a
process, so revocation, new scopes and limits apply to the next request on every gateway. The submit path
runs the same function inside the script that writes the job (ffgate.generations.admission).
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

from ffgate.clients.rate_limit import SLIDING_WINDOW, RateLimitState
from ffgate.config import Settings
from ffgate.errors import ServiceUnavailable
from ffgate.redis.keys import Keys

log = logging.getLogger(__name__)

# Looks a key's hash up, checks the client is active and counts the request in its window. Returns nil, or
# {id, scopes, daily quota ('' = none), limit, used, ms until a slot frees, refused (1) or taken (0)}.
# The client's own keys are derived here from prefixes: fine on one Redis, not on a Redis Cluster.
AUTHENTICATE = (
    SLIDING_WINDOW
    + """
local function same(a, b)  -- constant time (no early exit) for strings of one length
  if #a ~= #b then return false end
  local diff = 0
  for i = 1, #a do diff = bit.bor(diff, bit.bxor(string.byte(a, i), string.byte(b, i))) end
  return diff == 0
end
local function authenticate(apikey, digest, client_prefix, window_prefix, member)
  local id = redis.call('GET', apikey)
  if not id then return nil end
  local c = redis.call('HMGET', client_prefix .. id,
    'keyHash', 'scopes', 'rpm', 'dailyImageQuota', 'revokedAt')
  -- The record's keyHash differs from the one looked up only if the index entry outlived a rotation.
  if not c[1] or not same(c[1], digest) or (c[5] and c[5] ~= '') then return nil end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local window, limit = window_prefix .. id, tonumber(c[3])
  local wait, used = window_wait(window, now, limit)
  if wait > 0 then return {id, c[2], c[4] or '', limit, used, wait, 1} end
  wait = window_take(window, now, now .. '-' .. member)
  return {id, c[2], c[4] or '', limit, used + 1, wait, 0}
end
"""
)

_AUTHENTICATE_ONLY = (
    AUTHENTICATE + "return authenticate(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) or false\n"
)


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
        self._authenticate = redis.register_script(_AUTHENTICATE_ONLY)

    def digest(self, key: str) -> str | None:
        """The keyed hash `key` is stored under (None: no pepper, so no client keys)."""
        return key_digest(self._pepper, key) if self._pepper else None

    def issue(self) -> tuple[str, str]:
        """A new API key and its keyed hash."""
        if self._pepper is None:
            raise ServiceUnavailable("API keys need FFGATE_KEY_PEPPER (or FFGATE_ADMIN_KEY) to be set.")
        key = new_api_key()
        return key, key_digest(self._pepper, key)

    def auth_args(self, digest: str) -> tuple[str, list[str]]:
        """The key (KEYS) and arguments of the Lua `authenticate`, also run inside other scripts."""
        args = [digest, self._keys.client(""), self._keys.client_window(""), secrets.token_hex(4)]
        return self._keys.api_key(digest), args

    async def authenticate(self, key: str) -> Caller | None:
        """The active client whose API key is `key` (None: unknown or revoked), its request counted."""
        digest = self.digest(key)
        if digest is None:
            return None
        apikey, args = self.auth_args(digest)
        reply = await self._authenticate(keys=[apikey], args=args)
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
