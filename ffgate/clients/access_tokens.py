"""Short-lived bearer tokens from the gateway's Firefly-compatible `POST /ims/token/v2|v3`, so code written
for Adobe IMS + Firefly works with an ffgate client's id as `client_id` and its API key as `client_secret`.

A token (`ffat_` + 256 random bits) is stored only as its SHA-256, `access-token:<sha256>` = the keyed hash
of the API key it was issued for, with the token's life as the entry's TTL. Using it looks that key up
exactly as the key itself would be (`lua/authenticate_token.lua`: active client, rate limit counted), so it
expires when it says, and stops working at once when its client is revoked or its key rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis
from pydantic import SecretStr

from ffgate.clients.api_keys import ApiKeys, Caller
from ffgate.clients.authentication import Credentials, Principal, admit, authenticate
from ffgate.errors import Unauthorized
from ffgate.redis.keys import Keys
from ffgate.redis.scripts import Script

TOKEN_PREFIX = "ffat_"  # noqa: S105 (a prefix, not a secret)
BAD_CLIENT = "Unknown client_id, or a client_secret that is not that client's API key."


@dataclass(frozen=True)
class AccessToken:
    token: SecretStr
    expires_in: int


def is_access_token(bearer: str) -> bool:
    return bearer.startswith(TOKEN_PREFIX)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccessTokens:
    def __init__(self, redis: aioredis.Redis, keys: Keys, api_keys: ApiKeys, ttl_s: int) -> None:
        self._redis = redis
        self._keys = keys
        self._api_keys = api_keys
        self._ttl_s = ttl_s
        self._authenticate = Script(redis, "authenticate_token")

    async def issue(self, client_id: str, client_secret: str) -> AccessToken:
        """A token for the client whose id and API key these are (the request counts against its limit)."""
        caller = await self._api_keys.authenticate(client_secret)
        digest = self._api_keys.digest(client_secret)
        if caller is None or digest is None or not hmac.compare_digest(caller.client_id, client_id):
            raise Unauthorized(BAD_CLIENT)
        admit(caller, None)  # within its rate limit; a token needs no particular scope
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        await self._redis.set(self._keys.access_token(_digest(token)), digest, ex=self._ttl_s)
        return AccessToken(SecretStr(token), self._ttl_s)

    async def authenticate(self, token: str) -> Caller | None:
        """The active client the token was issued to (None: unknown, expired or revoked), request counted."""
        reply = await self._authenticate(
            keys={"token": self._keys.access_token(_digest(token))},
            args={
                "apikey_prefix": self._keys.api_key(""),
                "client_prefix": self._keys.client(""),
                "window_prefix": self._keys.client_window(""),
                "member": secrets.token_hex(4),
            },
        )
        return Caller.from_reply(reply) if reply else None


async def authenticate_bearer(
    api_keys: ApiKeys, tokens: AccessTokens, admin_key: SecretStr | None, bearer: str | None, scope: str
) -> Principal:
    """Who sent `bearer`, an API key or a token from `/ims/token`, if they may use `scope` now (the request
    is counted)."""
    if bearer and is_access_token(bearer):
        return admit(await tokens.authenticate(bearer), scope)
    return await authenticate(api_keys, Credentials.of(admin_key, bearer), scope)
