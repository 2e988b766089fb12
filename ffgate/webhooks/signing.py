"""How a webhook delivery is signed: the Standard Webhooks spec (headers `webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256>`), with the calling client's `whsec_` secret, so a receiver
verifies it with the `standardwebhooks` package.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

import redis.asyncio as aioredis
from standardwebhooks import Webhook

from ffgate.clients.authentication import ADMIN_CLIENT_ID
from ffgate.config import Settings
from ffgate.redis.keys import Keys


async def signing_secret(settings: Settings, redis: aioredis.Redis, keys: Keys, client_id: str) -> str:
    """The `whsec_` secret deliveries for `client_id`'s jobs are signed with (LookupError: none)."""
    if client_id == ADMIN_CLIENT_ID:
        return admin_signing_secret(settings)
    secret: bytes | None = await redis.hget(keys.client(client_id), "webhookSecret")  # type: ignore[assignment]
    if not secret:
        raise LookupError(f"client {client_id!r} no longer exists")
    return secret.decode()


def admin_signing_secret(settings: Settings) -> str:
    """The bootstrap admin key's webhook secret: FFGATE_ADMIN_WEBHOOK_SECRET, or derived from the key."""
    if settings.admin_key is None:
        raise LookupError("FFGATE_ADMIN_KEY is not set")
    if settings.admin_webhook_secret is not None:
        return settings.admin_webhook_secret.get_secret_value()
    # Derived, so the bootstrap admin has a stable secret without one more setting to manage.
    digest = hmac.new(
        settings.admin_key.get_secret_value().encode(), b"ffgate webhook secret", hashlib.sha256
    )
    return "whsec_" + base64.b64encode(digest.digest()).decode()


def signed_headers(secret: str, webhook_id: str, body: str, when: datetime) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, when, body),
        "content-type": "application/json",
        "user-agent": "ffgate-webhooks/1",
    }
