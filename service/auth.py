"""Who is calling: API keys, scopes and the per-client request rate.

`FFGATE_ADMIN_KEY` is the bootstrap key: every scope, no rate limit or quota, and it may read any job. Every
other key belongs to a client in Redis (service.api_clients), looked up on every request (nothing cached), so
a revoked key or a removed scope fails on the next request on every gateway.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from pydantic import SecretStr

from service.api_clients import SCOPES, ClientStore
from service.errors import Forbidden, RateLimited, Unauthorized
from service.ratelimit import RateLimitState

ADMIN_CLIENT_ID = "admin"


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
            raise Forbidden(f"This key lacks the '{scope}' scope.")


async def authenticate(admin_key: SecretStr | None, clients: ClientStore, key: str | None) -> Principal:
    """The caller of a request whose bearer credential is `key` (None: no usable Authorization header).

    A client's request is counted against its rate limit here; past the limit this raises `RateLimited`.
    """
    if not key:
        raise Unauthorized("Send 'Authorization: Bearer <api key>'.")
    if admin_key is not None and hmac.compare_digest(key.encode(), admin_key.get_secret_value().encode()):
        return Principal(ADMIN_CLIENT_ID, frozenset(SCOPES))
    caller = await clients.authenticate(key)
    if caller is None:
        raise Unauthorized("Unknown or revoked API key.")
    if caller.rate.refused:
        error = RateLimited(
            f"Rate limit of {caller.rate.limit} requests per minute reached.",
            retry_after_s=caller.rate.reset_ms / 1000,
        )
        error.headers.update(caller.rate.headers())
        raise error
    return Principal(caller.client_id, caller.scopes, caller.daily_image_quota, caller.rate)
