"""How soon clients hear that a job finished, after the worker records it.

Starts the emulator (no rate limit), one gateway and two workers on loopback, submits 500 generations with a
webhook to a receiver in this process, and for every job holds a long-poll (`?wait=`) and a server-sent
events stream open. For each job it takes the moment the worker recorded the terminal state (`completedAt`)
and prints p50/p99 of the delay until (a) the long-poll returned it, (b) the SSE event arrived, (c) the
webhook arrived. Listeners are plain asyncio sockets, so the load generator stays out of the way.

    .venv/bin/python bench/notify.py [--jobs 500] [--latency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import quantile, submit_generations
from emulator.seed import ROUTER_MODEL_ID
from tests.stack import running_stack

TERMINAL = (b"event: succeeded", b"event: failed", b"event: canceled")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return status, await reader.readexactly(length)


async def long_poll(host: str, port: int, key: str, gen_id: str) -> float:
    """Arrival time of the first long-poll answer showing a terminal state."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            request = (
                f"GET /v1/generations/{gen_id}?wait=30 HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {key}\r\n\r\n"
            )
            writer.write(request.encode())
            await writer.drain()
            _, body = await read_response(reader)
            if json.loads(body)["status"] in ("succeeded", "failed", "canceled"):
                return time.time()
    finally:
        writer.close()


async def sse(host: str, port: int, key: str, gen_id: str) -> float:
    """Arrival time of the terminal event on the job's event stream."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        request = (
            f"GET /v1/generations/{gen_id}/events HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {key}\r\nAccept: text/event-stream\r\n\r\n"
        )
        writer.write(request.encode())
        await writer.drain()
        seen = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                raise ConnectionError("event stream ended without a terminal event")
            seen = seen[-64:] + chunk
            if any(marker in seen for marker in TERMINAL):
                return time.time()
    finally:
        writer.close()


class WebhookSink:
    """A minimal HTTP/1.1 server that notes when each job's terminal webhook arrived."""

    def __init__(self, expected: int) -> None:
        self.arrived: dict[str, float] = {}
        self.expected = expected
        self.all_arrived = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                now = time.time()
                message = json.loads(body)
                self.arrived.setdefault(message["data"]["id"], now)
                if len(self.arrived) >= self.expected:
                    self.all_arrived.set()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def run(
    gateway: str, key: str, jobs: int
) -> tuple[list[str], dict[str, float], dict[str, float], WebhookSink]:
    sink = WebhookSink(jobs)
    server = await asyncio.start_server(sink.handle, "127.0.0.1", 0)
    hook_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    parts = urlsplit(gateway)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    polls: dict[str, asyncio.Task[float]] = {}
    streams: dict[str, asyncio.Task[float]] = {}

    def listen(gen_id: str) -> None:  # from the moment the job exists
        polls[gen_id] = asyncio.create_task(long_poll(host, port, key, gen_id))
        streams[gen_id] = asyncio.create_task(sse(host, port, key, gen_id))

    body = {"customModelId": ROUTER_MODEL_ID, "webhook": {"url": hook_url}}
    bodies = [{**body, "prompt": f"router {i}"} for i in range(jobs)]
    await submit_generations(gateway, key, bodies, on_created=listen)
    ids = list(polls)
    poll_at = dict(zip(ids, await asyncio.gather(*polls.values()), strict=True))
    sse_at = dict(zip(ids, await asyncio.gather(*(streams[i] for i in ids)), strict=True))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(sink.all_arrived.wait(), timeout=30)
    server.close()
    return ids, poll_at, sse_at, sink


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--latency", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    env = {
        "FFGATE_EMULATOR_JOB_LATENCY_S": str(args.latency),
        "FFGATE_WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8",
        "FFGATE_POLL_FIRST_S": "2",
        "FFGATE_POLL_INTERVAL_S": "2.5",
        "FFGATE_POLL_TAIL_S": "1",
        "FFGATE_POLL_MAX_INTERVAL_S": "15",
        "FFGATE_LOG_LEVEL": "WARNING",
    }
    with running_stack(Path(tempfile.mkdtemp(prefix="ffgate-notify-")), workers=args.workers, **env) as stack:
        started = time.time()
        ids, poll_at, sse_at, sink = asyncio.run(
            run(stack.gateways["gateway"], stack.env["FFGATE_ADMIN_KEY"], args.jobs)
        )
        elapsed = time.time() - started
        pipe = stack.redis.pipeline(transaction=False)
        for gen_id in ids:
            pipe.hmget(f"ffgate:gen:{gen_id}", "state", "completedAt")
        recorded = {}
        states: dict[str, int] = {}
        for gen_id, (state, completed) in zip(ids, pipe.execute(), strict=True):
            states[state.decode()] = states.get(state.decode(), 0) + 1
            stamp = completed.decode().replace("Z", "+00:00")
            recorded[gen_id] = datetime.fromisoformat(stamp).timestamp()

    print(
        f"{len(ids)} jobs, {states}, in {elapsed:.1f}s; delay from the worker recording the terminal state:"
    )
    for name, arrivals, target in (
        ("(a) long-poll returned", poll_at, 0.25),
        ("(b) SSE event arrived", sse_at, 0.25),
        ("(c) webhook arrived", sink.arrived, 1.0),
    ):
        delays = [arrivals[i] - recorded[i] for i in ids if i in arrivals]
        print(
            f"{name:24} n={len(delays):4}  p50 {quantile(delays, 0.5) * 1000:6.0f} ms  "
            f"p99 {quantile(delays, 0.99) * 1000:6.0f} ms  max {max(delays) * 1000:6.0f} ms  "
            f"(target p99 <= {target * 1000:.0f} ms)"
        )


if __name__ == "__main__":
    main()
