"""The webhook client (ffgate.webhooks.connections) over real sockets on loopback: 127.0.0.x are all this
machine's, so a name can resolve to several addresses that answer (or refuse) differently. Only the
resolver is the test's: a table of names."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
import trustme

from ffgate.webhooks.connections import webhook_client
from ffgate.webhooks.destinations import IPAddress, RefusedDestination, resolve_destination

pytestmark = pytest.mark.anyio

# The receivers' addresses, as FFGATE_WEBHOOK_ALLOWED_CIDRS would let them in; the rest of loopback is not.
LOOPBACK = [ipaddress.ip_network("127.0.0.2/31")]


@dataclass
class Receiver:
    """A keep-alive HTTP/1.1 server on one loopback address: answers 204, counts connections, and keeps the
    Host header and (with TLS) the SNI name of each request."""

    address: str
    port: int = 0
    connections: int = 0
    hosts: list[str] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode().split("\r\n")
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                fields = {k.lower(): v for k, v in headers.items()}
                await reader.readexactly(int(fields.get("content-length", "0")))
                self.hosts.append(fields["host"])
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()


Serve = Callable[..., Awaitable[Receiver]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(address: str, tls: ssl.SSLContext | None = None) -> Receiver:
        receiver = Receiver(address)
        if tls is not None:
            tls.sni_callback = lambda sock, name, ctx: receiver.sni.append(name)
        server = await asyncio.start_server(receiver.handle, address, 0, ssl=tls)
        receiver.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return receiver

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


class Names:
    """A resolver answering from a table, and keeping the questions."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(8, "Name or service not known")
        return [ipaddress.ip_address(a) for a in self.table[host]]


async def test_the_addresses_are_tried_in_turn_until_one_answers(serve: Serve) -> None:
    receiver: Receiver = await serve("127.0.0.2")
    # 127.0.0.3 has nothing listening on that port: the connection is refused
    resolve = Names({"hooks.test": ["127.0.0.3", "127.0.0.2"]})
    async with webhook_client(LOOPBACK, timeout_s=5, max_connections=4, resolve=resolve) as client:
        url = f"http://hooks.test:{receiver.port}/hook"
        first = await client.post(url, content=b"{}")
        second = await client.post(url, content=b"{}")

    assert (first.status_code, second.status_code) == (204, 204)
    assert receiver.hosts == [f"hooks.test:{receiver.port}"] * 2  # the URL's host, not the address
    assert receiver.connections == 1  # pooled under the name


async def test_a_name_with_a_private_address_is_refused_before_any_connection(
    serve: Serve,
) -> None:
    receiver: Receiver = await serve("127.0.0.2")
    resolve = Names({"mixed.test": ["127.0.0.2", "10.20.30.40"], "inside.test": ["192.168.1.5"]})
    async with webhook_client(LOOPBACK, timeout_s=5, max_connections=4, resolve=resolve) as client:
        for host in ("mixed.test", "inside.test"):
            with pytest.raises(RefusedDestination, match="private address"):
                await client.post(f"http://{host}:{receiver.port}/hook", content=b"{}")
        with pytest.raises(RefusedDestination, match="loopback"):
            await client.post(f"http://127.0.0.1:{receiver.port}/hook", content=b"{}")

    assert receiver.connections == 0


async def test_dns_rebinding_is_caught_when_connecting(serve: Serve) -> None:
    receiver: Receiver = await serve("127.0.0.2")
    resolve = Names({"rebind.test": ["127.0.0.2"]})
    url = f"http://rebind.test:{receiver.port}/hook"
    # Submit-time check: the name resolves to an address that may receive webhooks...
    assert await resolve_destination(url, LOOPBACK, resolve) == [ipaddress.ip_address("127.0.0.2")]
    # ...then it answers with an inside address by the time a delivery connects.
    resolve.table["rebind.test"] = ["127.0.0.2", "169.254.169.254"]
    async with webhook_client(LOOPBACK, timeout_s=5, max_connections=4, resolve=resolve) as client:
        with pytest.raises(RefusedDestination, match="link-local"):
            await client.post(url, content=b"{}")

    assert resolve.asked == ["rebind.test", "rebind.test"]
    assert receiver.connections == 0


async def test_tls_is_verified_for_the_urls_host_and_never_shared_across_hosts(
    serve: Serve,
) -> None:
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks-a.test").configure_cert(tls)
    receiver: Receiver = await serve("127.0.0.2", tls)
    trust = ssl.create_default_context()
    ca.configure_trust(trust)
    resolve = Names({"hooks-a.test": ["127.0.0.2"], "hooks-b.test": ["127.0.0.2"]})
    async with webhook_client(
        LOOPBACK,
        timeout_s=5,
        max_connections=4,
        resolve=resolve,
        verify=trust,
    ) as client:
        for _ in range(2):
            answer = await client.post(f"https://hooks-a.test:{receiver.port}/hook", content=b"{}")
            assert answer.status_code == 204
        # Same address, open connection in the pool: still a connection of its own, verified for its name.
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.post(f"https://hooks-b.test:{receiver.port}/hook", content=b"{}")

    # Two handshakes: hooks-a's connection, reused for its second delivery, and hooks-b's own, which failed
    # on the client's side (so the server never served a request on it).
    assert receiver.sni == ["hooks-a.test", "hooks-b.test"]
    assert receiver.hosts == [f"hooks-a.test:{receiver.port}"] * 2
    assert receiver.connections == 1
