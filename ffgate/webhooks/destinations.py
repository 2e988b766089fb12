"""Where a webhook delivery may go: a destination is checked when the job is submitted and again whenever a
connection to it is made (DNS can change: ffgate.webhooks.connections): every address its name resolves to
must be public, unless its network is listed in FFGATE_WEBHOOK_ALLOWED_CIDRS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
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


Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The addresses `host` resolves to, in the order the system gives them (OSError if none)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


async def checked_addresses(
    host: str, port: int, allowed: Sequence[IPNetwork], resolve: Resolver = system_resolver
) -> list[IPAddress]:
    """Every address `host` stands for, if every one of them may receive webhooks; else RefusedDestination."""
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = await resolve(host, port)
        except OSError as exc:
            raise RefusedDestination(f"webhook host {host!r} does not resolve ({exc.strerror})") from None
        if not addresses:
            raise RefusedDestination(f"webhook host {host!r} does not resolve") from None
    for address in addresses:
        reason = refusal(address, allowed)
        if reason:
            raise RefusedDestination(f"webhook host {host!r} resolves to {reason}")
    return addresses


def destination(url: str) -> tuple[str, int]:
    """The host and port of a webhook URL of an acceptable form; else RefusedDestination."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedDestination("webhook.url must be an absolute http(s) URL")
    if parts.username or parts.password:
        raise RefusedDestination("webhook.url must not carry credentials")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


async def resolve_destination(
    url: str, allowed: Sequence[IPNetwork], resolve: Resolver = system_resolver
) -> list[IPAddress]:
    """The addresses `url` may be sent to; raises RefusedDestination if any of them is refused."""
    host, port = destination(url)
    return await checked_addresses(host, port, allowed, resolve)
