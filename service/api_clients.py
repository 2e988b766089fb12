"""API clients: the internal services that call ffgate, each with its own key, scopes and limits, in Redis.

    client:<id>        hash: id, name, scopes, rpm, dailyImageQuota ('' = none), createdAt, updatedAt,
                       revokedAt ('' = active), keyHash, webhookSecret
    apikey:<keyHash>   the client id: the one lookup an authenticated request makes
    clients            sorted set of every client id, scored by creation time

An API key is random (`ffk_` + 256 bits), shown once, and stored only as `keyHash` = HMAC-SHA256(pepper, key):
a leaked Redis dump yields no usable key, and nobody can compute a key's hash without the server's pepper
(`FFGATE_KEY_PEPPER`, else derived from `FFGATE_ADMIN_KEY`). A request's key is hashed, looked up by that
hash, and the record's `keyHash` compared with it in constant time, in one Lua call (`AUTHENTICATE`) that also
counts the request against the client's rate limit. Nothing is cached in a process: revocation, new scopes
and limits apply to the next request on every gateway.

The webhook secret (`whsec_` + base64, the Standard Webhooks format) is stored as is: the worker signs with
it.
Neither the key nor the secret is ever returned again after `create` / `rotate`, nor logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from pydantic import SecretStr
from redis.exceptions import RedisError
from redis.typing import EncodableT

from service.config import Settings
from service.errors import Conflict, NotFound, ServiceUnavailable
from service.jobs import utcnow
from service.keys import Keys
from service.ratelimit import SLIDING_WINDOW, RateLimitState

log = logging.getLogger(__name__)

SCOPES = ("models:read", "generate", "admin")

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

# update / revoke / rotate of an existing client, atomically; false if there is none, -1 if it is revoked.
_CHANGE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local op, now, keys = ARGV[1], ARGV[2], ARGV[3]
local revoked = (redis.call('HGET', KEYS[1], 'revokedAt') or '') ~= ''
if op == 'revoke' then
  if not revoked then
    redis.call('DEL', keys .. (redis.call('HGET', KEYS[1], 'keyHash') or ''))
    redis.call('HSET', KEYS[1], 'revokedAt', now, 'updatedAt', now)
  end
  return redis.call('HGETALL', KEYS[1])
end
if revoked then return -1 end
if op == 'rotate' then
  redis.call('DEL', keys .. (redis.call('HGET', KEYS[1], 'keyHash') or ''))
  redis.call('SET', keys .. ARGV[4], redis.call('HGET', KEYS[1], 'id'))
  redis.call('HSET', KEYS[1], 'keyHash', ARGV[4])
end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'updatedAt', now)
return redis.call('HGETALL', KEYS[1])
"""


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
class ApiClient:
    id: str
    name: str
    scopes: tuple[str, ...]
    requests_per_minute: int
    daily_image_quota: int | None
    created_at: str
    updated_at: str
    revoked_at: str | None

    @classmethod
    def from_reply(cls, reply: list[bytes]) -> ApiClient:
        """From HGETALL as a Lua script returns it: a flat [field, value, ...] list."""
        raw = [item.decode() for item in reply]
        return cls.from_hash(dict(zip(raw[::2], raw[1::2], strict=True)))

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> ApiClient:
        return cls(
            id=h["id"],
            name=h["name"],
            scopes=tuple(s for s in h["scopes"].split(",") if s),
            requests_per_minute=int(h["rpm"]),
            daily_image_quota=int(h["dailyImageQuota"]) if h.get("dailyImageQuota") else None,
            created_at=h["createdAt"],
            updated_at=h.get("updatedAt") or h["createdAt"],
            revoked_at=h.get("revokedAt") or None,
        )


@dataclass(frozen=True)
class Issued:
    """A client with the credentials that are shown this once (create / rotate)."""

    client: ApiClient
    api_key: SecretStr
    webhook_secret: SecretStr | None = None


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


class ClientStore:
    def __init__(self, redis: aioredis.Redis, keys: Keys, pepper: bytes | None) -> None:
        self._redis = redis
        self._keys = keys
        self._pepper = pepper
        self._authenticate = redis.register_script(_AUTHENTICATE_ONLY)
        self._change = redis.register_script(_CHANGE)

    @property
    def pepper_id(self) -> str | None:
        """Names the pepper without revealing it, so processes can tell whether they share one."""
        return key_digest(self._pepper, "ffgate pepper id")[:16] if self._pepper else None

    def _need_pepper(self) -> bytes:
        if self._pepper is None:
            raise ServiceUnavailable("API keys need FFGATE_KEY_PEPPER (or FFGATE_ADMIN_KEY) to be set.")
        return self._pepper

    def digest(self, key: str) -> str | None:
        """The keyed hash `key` is stored under (None: no pepper, so no client keys)."""
        return key_digest(self._pepper, key) if self._pepper else None

    def auth_args(self, digest: str) -> tuple[str, list[str]]:
        """KEYS[n] and ARGV for the Lua `authenticate` (AUTHENTICATE), also run inside other scripts."""
        member = secrets.token_hex(4)
        return self._keys.api_key(digest), [
            digest,
            self._keys.client(""),
            self._keys.client_window(""),
            member,
        ]

    async def authenticate(self, key: str) -> Caller | None:
        """The active client whose API key is `key` (None: unknown or revoked), its request counted."""
        digest = self.digest(key)
        if digest is None:
            return None
        apikey, args = self.auth_args(digest)
        reply = await self._authenticate(keys=[apikey], args=args)
        return Caller.from_reply(reply) if reply else None

    async def create(
        self, *, name: str, scopes: list[str], requests_per_minute: int, daily_image_quota: int | None
    ) -> Issued:
        pepper = self._need_pepper()
        client_id = "cli_" + secrets.token_urlsafe(12)
        api_key, webhook_secret = new_api_key(), new_webhook_secret()
        digest = key_digest(pepper, api_key)
        now = utcnow()
        record = {
            "id": client_id,
            "name": name,
            "scopes": _stored(scopes),
            "rpm": str(requests_per_minute),
            "dailyImageQuota": _stored(daily_image_quota),
            "createdAt": now,
            "updatedAt": now,
            "revokedAt": "",
            "keyHash": digest,
            "webhookSecret": webhook_secret,
        }
        fields: dict[EncodableT, EncodableT] = {k: v for k, v in record.items()}
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._keys.client(client_id), mapping=fields)
        pipe.set(self._keys.api_key(digest), client_id)
        pipe.zadd(self._keys.clients, {client_id: time.time()})
        await pipe.execute()
        return Issued(ApiClient.from_hash(record), SecretStr(api_key), SecretStr(webhook_secret))

    async def list(self) -> list[ApiClient]:
        """Every client, revoked ones too, oldest first."""
        ids: Any = await self._redis.zrange(self._keys.clients, 0, -1)
        pipe = self._redis.pipeline(transaction=False)
        for client_id in ids:
            pipe.hgetall(self._keys.client(client_id.decode()))
        rows: list[dict[bytes, bytes]] = await pipe.execute()
        return [ApiClient.from_hash(_decoded(row)) for row in rows if row]

    async def get(self, client_id: str) -> ApiClient:
        row: dict[bytes, bytes] = await self._redis.hgetall(self._keys.client(client_id))  # type: ignore[assignment]
        if not row:
            raise NotFound(f"No client '{client_id}'.")
        return ApiClient.from_hash(_decoded(row))

    async def update(self, client_id: str, changes: Mapping[str, Any]) -> ApiClient:
        """Change an active client: any of `name`, `scopes`, `requests_per_minute`, `daily_image_quota`."""
        fields = {_FIELDS[name]: _stored(value) for name, value in changes.items()}
        return await self._apply(client_id, "update", "", fields)

    async def revoke(self, client_id: str) -> ApiClient:
        """Its key stops working at once, on every gateway; revoking twice is harmless."""
        return await self._apply(client_id, "revoke", "", {})

    async def rotate(self, client_id: str) -> Issued:
        """A new API key; the old one stops working at once."""
        api_key = new_api_key()
        client = await self._apply(client_id, "rotate", key_digest(self._need_pepper(), api_key), {})
        return Issued(client, SecretStr(api_key))

    async def _apply(self, client_id: str, op: str, digest: str, fields: dict[str, str]) -> ApiClient:
        args: list[str] = [op, utcnow(), self._keys.api_key(""), digest]
        for name, value in fields.items():
            args += [name, value]
        reply: Any = await self._change(keys=[self._keys.client(client_id)], args=args)
        if reply is None:
            raise NotFound(f"No client '{client_id}'.")
        if reply == -1:
            raise Conflict(f"Client '{client_id}' is revoked.")
        return ApiClient.from_reply(reply)

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


_FIELDS = {
    "name": "name",
    "scopes": "scopes",
    "requests_per_minute": "rpm",
    "daily_image_quota": "dailyImageQuota",
}


def _stored(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _decoded(row: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in row.items()}
