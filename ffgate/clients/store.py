"""API clients: the internal services that call ffgate, each with its own key, scopes and limits, in Redis.

    client:<id>        hash: id, name, scopes, rpm, dailyImageQuota ('' = none), createdAt, updatedAt,
                       revokedAt ('' = active), keyHash, webhookSecret
    apikey:<keyHash>   the client id (ffgate.clients.api_keys: how keys are hashed and looked up)
    clients            sorted set of every client id, scored by creation time

The webhook secret (`whsec_` + base64, the Standard Webhooks format) is stored as is: the worker signs with
it. Neither the API key nor the secret is ever returned again after `create` / `rotate`, nor logged.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from pydantic import SecretStr
from redis.typing import EncodableT

from ffgate.clients.api_keys import ApiKeys, new_webhook_secret
from ffgate.clock import utcnow
from ffgate.errors import Conflict, NotFound
from ffgate.redis.keys import Keys
from ffgate.redis.scripts import Script

SCOPES = ("models:read", "generate", "admin")


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


class ClientStore:
    def __init__(self, redis: aioredis.Redis, keys: Keys, api_keys: ApiKeys) -> None:
        self._redis = redis
        self._keys = keys
        self._api_keys = api_keys
        self._change = Script(redis, "change_client")

    async def create(
        self, *, name: str, scopes: list[str], requests_per_minute: int, daily_image_quota: int | None
    ) -> Issued:
        client_id = "cli_" + secrets.token_urlsafe(12)
        (api_key, digest), webhook_secret = self._api_keys.issue(), new_webhook_secret()
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
        api_key, digest = self._api_keys.issue()
        return Issued(await self._apply(client_id, "rotate", digest, {}), SecretStr(api_key))

    async def _apply(self, client_id: str, op: str, digest: str, fields: dict[str, str]) -> ApiClient:
        reply: Any = await self._change(
            keys={"client": self._keys.client(client_id)},
            args={"op": op, "now": utcnow(), "apikey_prefix": self._keys.api_key(""), "new_digest": digest},
            rest=[item for pair in fields.items() for item in pair],
        )
        if reply is None:
            raise NotFound(f"No client '{client_id}'.")
        if reply == -1:
            raise Conflict(f"Client '{client_id}' is revoked.")
        return ApiClient.from_reply(reply)


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
