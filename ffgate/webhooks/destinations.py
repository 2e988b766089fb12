"""Where a webhook delivery may go: a destination is checked when the job is submitted and again before
every attempt (DNS can change): every address its name resolves to must be public, unless its network is
listed in FFGATE_WEBHOOK_ALLOWED_CIDRS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

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
