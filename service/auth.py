"""Who is calling: API keys and scopes.

Until client management lands, the bootstrap `FFGATE_ADMIN_KEY` is the only key, and it has every scope.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from service.config import Settings
from service.errors import Forbidden, Unauthorized

SCOPES = ("models:read", "generate", "admin")
ADMIN_CLIENT_ID = "admin"


@dataclass(frozen=True)
class Principal:
    client_id: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"This key lacks the '{scope}' scope.")


def authenticate(settings: Settings, key: str | None) -> Principal:
    """The caller of a request whose bearer credential is `key` (None: no usable Authorization header)."""
    if not key:
        raise Unauthorized("Send 'Authorization: Bearer <api key>'.")
    admin = settings.admin_key
    if admin is not None and hmac.compare_digest(key.encode(), admin.get_secret_value().encode()):
        return Principal(ADMIN_CLIENT_ID, frozenset(SCOPES))
    raise Unauthorized("Unknown or revoked API key.")
