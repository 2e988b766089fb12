"""The webhook HTTP client: connections made only to addresses checked at the moment of connecting.

Rewriting a delivery's URL to the address checked beforehand (and setting SNI by hand) pins the address,
but the pool then keys on the IP: a delivery to one host could reuse a TLS connection verified for another
host on the same IP, and only the first address was ever tried. Here the URL keeps its host (the pool keys
on it, TLS verifies and sends SNI for it) and the check moves into httpcore's network backend: every new
connection resolves the host then, refuses it unless every address may receive webhooks
(ffgate.webhooks.destinations) and tries the addresses in turn until one answers. A name that resolves to
a public address at submit and to a private one a moment later (DNS rebinding) is refused at connect time.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Sequence

import httpcore
import httpx

from ffgate.webhooks.destinations import IPNetwork, Resolver, checked_addresses, system_resolver

SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """Connects to a host through its checked addresses, one after another."""

    def __init__(self, allowed: Sequence[IPNetwork], resolve: Resolver = system_resolver) -> None:
        self._allowed = allowed
        self._resolve = resolve
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await checked_addresses(host, port, self._allowed, self._resolve)
        deadline = None if timeout is None else time.monotonic() + timeout
        options = list(socket_options or ())
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for i, address in enumerate(addresses):
            # An address that never answers takes its share of the time, not all of it.
            share = None if deadline is None else (deadline - time.monotonic()) / (len(addresses) - i)
            if share is not None and share <= 0:
                break
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout=share, local_address=local_address, socket_options=options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # refused or silent: the next address may answer
        if failure is None:
            raise httpcore.ConnectTimeout(f"no address of {host!r} answered in time")
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are sent over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (its request and error mapping) over a pool that connects through a
    CheckedBackend: httpx takes no network backend, so its pool is replaced by one that does."""

    def __init__(
        self,
        allowed: Sequence[IPNetwork],
        *,
        limits: httpx.Limits,
        resolve: Resolver = system_resolver,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        super().__init__(limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=CheckedBackend(allowed, resolve),
        )


def webhook_client(
    allowed: Sequence[IPNetwork],
    *,
    timeout_s: float,
    max_connections: int,
    resolve: Resolver = system_resolver,
    verify: ssl.SSLContext | bool = True,
) -> httpx.AsyncClient:
    """The client deliveries go through; a destination it may not reach raises RefusedDestination."""
    limits = httpx.Limits(max_connections=max_connections)
    return httpx.AsyncClient(
        transport=CheckedTransport(allowed, limits=limits, resolve=resolve, verify=verify),
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,  # a proxy from the environment would connect on its own: never around the check
    )
