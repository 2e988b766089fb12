"""Who is calling: API keys, scopes and the per-client request rate.

`FFGATE_ADMIN_KEY` is the bootstrap key: every scope, no rate limit or quota, and it may read any job. Every
other key belongs to a client in Redis (ffgate.clients.api_keys), looked up on every request (nothing
cached), so
a revoked key or a removed scope fails on the next request on every gateway.

Most routes authenticate first (`authenticate`: one round trip). A submit authenticates inside the script
that writes the job (ffgate.generations.admission), and comes back here with what that script found (`admit`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from pydantic import SecretStr

from ffgate.clients.api_keys import ApiKeys, Caller
from ffgate.clients.rate_limit import RateLimitState
from ffgate.clients.store import SCOPES
from ffgate.errors import Forbidden, RateLimited, Unauthorized

ADMIN_CLIENT_ID = "admin"
UNKNOWN_KEY = "Unknown or revoked API key."


@dataclass(frozen=True)
class Principal:
    client_id: str
    scopes: frozenset[str]
    daily_image_quota: int | None = None
    rate: RateLimitState | None = None  # None: not rate limited (the bootstrap admin)

    @property
    def is_bootstrap_admin(self) -> bool:
        return self.client_id == ADMIN_CLIENT_ID

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"This key lacks the '{scope}' scope.").for_caller(self.rate)


BOOTSTRAP_ADMIN = Principal(ADMIN_CLIENT_ID, frozenset(SCOPES))


@dataclass(frozen=True)
class Credentials:
    """The bearer key of a request, not yet looked up (the bootstrap admin's is known without Redis)."""

    key: SecretStr
    admin: Principal | None

    @classmethod
    def of(cls, admin_key: SecretStr | None, key: str | None) -> Credentials:
        if not key:
            raise Unauthorized("Send 'Authorization: Bearer <api key>'.")
        is_admin = admin_key is not None and hmac.compare_digest(
            key.encode(), admin_key.get_secret_value().encode()
        )
        return cls(SecretStr(key), BOOTSTRAP_ADMIN if is_admin else None)


def admit(caller: Caller | None, scope: str | None) -> Principal:
    """The principal a client key's lookup found, once its rate limit and scope (if any) allow this
    request."""
    if caller is None:
        raise Unauthorized(UNKNOWN_KEY)
    if caller.rate.refused:
        raise RateLimited(
            f"Rate limit of {caller.rate.limit} requests per minute reached.",
            retry_after_s=caller.rate.reset_ms / 1000,
        ).for_caller(caller.rate)
    principal = Principal(caller.client_id, caller.scopes, caller.daily_image_quota, caller.rate)
    if scope is not None:
        principal.require(scope)
    return principal


async def authenticate(api_keys: ApiKeys, credentials: Credentials, scope: str) -> Principal:
    """Who sent `credentials`, if they may use `scope` now (the request is counted against the rate limit)."""
    if credentials.admin is not None:
        return credentials.admin
    return admit(await api_keys.authenticate(credentials.key.get_secret_value()), scope)
