"""Webhooks: which addresses a delivery may reach, how it is signed, and when a failed one is tried again.

Deliveries follow the Standard Webhooks spec (headers `webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256>`), signed with the calling client's `whsec_` secret, so a
receiver verifies them with the `standardwebhooks` package. A destination is checked when the job is
submitted and again before every attempt (DNS can change): every address its name resolves to must be
public, unless its network is listed in FFGATE_WEBHOOK_ALLOWED_CIDRS.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import random
import socket
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from standardwebhooks import Webhook

from ffgate.clients.authentication import ADMIN_CLIENT_ID
from ffgate.config import Settings
from ffgate.redis.keys import Keys

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Not covered by is_private & co., yet never a legitimate webhook receiver.
_BLOCKED = [
    ipaddress.ip_network(n) for n in ("100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "fd00:ec2::/32")
]


class RefusedDestination(ValueError):
    """The webhook URL is not one ffgate will send to."""


def refusal(address: IPAddress, allowed: Sequence[IPNetwork]) -> str | None:
    """Why `address` may not receive webhooks, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed if network.version == address.version):
        return None
    for reason, hit in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("shared or special-purpose", any(address in n for n in _BLOCKED if n.version == address.version)),
    ):
        if hit:
            return f"{address} is a {reason} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


async def resolve_destination(url: str, allowed: Sequence[IPNetwork]) -> list[IPAddress]:
    """The addresses `url` may be sent to; raises RefusedDestination if any of them is refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedDestination("webhook.url must be an absolute http(s) URL")
    if parts.username or parts.password:
        raise RefusedDestination("webhook.url must not carry credentials")
    host = parts.hostname
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise RefusedDestination(f"webhook host {host!r} does not resolve ({exc.strerror})") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    for address in addresses:
        reason = refusal(address, allowed)
        if reason:
            raise RefusedDestination(f"webhook host {host!r} resolves to {reason}")
    return addresses


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


def retry_delay(settings: Settings, attempt: int, first_at: float, now: float) -> float | None:
    """Seconds until the next try after failed attempt number `attempt` (1-based); None: give up.

    By default about 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every 2 h for 24 h, each +-20%.
    """
    if now - first_at >= settings.webhook_retry_for_s:
        return None
    delays = settings.webhook_retry_delays_s
    base = delays[attempt - 1] if attempt <= len(delays) else settings.webhook_retry_every_s
    return base * random.uniform(0.8, 1.2)
