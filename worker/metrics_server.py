"""The worker's own small HTTP server (FFGATE_WORKER_METRICS_PORT): `/metrics`, `/healthz`, `/readyz`.

It runs on the worker's event loop, beside the poller, so an answer at all shows the loop turns:

- `/healthz`: 200 while the poller's loop has come round within `STUCK_AFTER_S` (a liveness probe
  restarts a worker whose loop is stuck or whose poller died), else 503.
- `/readyz`: 200 when the worker's Redis answers a PING within FFGATE_REDIS_TIMEOUT_S, else 503.
- `/metrics`: this process's counters and the shared state read from Redis (ffgate.metrics).

GET (and HEAD) only, one request per connection, no body read: it is for probes and Prometheus, on a port
that is not published to clients.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from ffgate import metrics
from worker.context import WorkerContext

log = logging.getLogger(__name__)

PATHS = ("/metrics", "/healthz", "/readyz")
STUCK_AFTER_S = 60.0
READ_TIMEOUT_S = 5.0


class MetricsServer:
    def __init__(self, ctx: WorkerContext, last_turn: Callable[[], float | None]) -> None:
        """`last_turn`: when (monotonic) the poller's loop last came round; None once it stopped."""
        self.ctx = ctx
        self._last_turn = last_turn
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the port (useful with 0 in tests)."""
        self._server = await asyncio.start_server(self._serve, host, port)
        bound: int = self._server.sockets[0].getsockname()[1]
        log.info("worker metrics and health on http://%s:%d/metrics", host, bound)
        return bound

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
            method, path = _request_line(head)
            if method not in ("GET", "HEAD"):
                status, kind, body = 405, "text/plain", b"GET only\n"
            else:
                status, kind, body = await self._answer(path)
            headers = (
                f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(headers.encode() + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        except Exception:
            log.exception("worker metrics request failed")
        finally:
            writer.close()

    async def _answer(self, path: str) -> tuple[int, str, bytes]:
        path = path.partition("?")[0]
        if path == "/metrics":
            body = metrics.render(await metrics.cluster_state(self.ctx.fairqueue))
            return 200, metrics.CONTENT_TYPE_LATEST, body
        if path == "/healthz":
            turn = self._last_turn()
            if turn is None:
                return _health(503, "The poller has stopped.")
            ago = time.monotonic() - turn
            if ago > STUCK_AFTER_S:
                return _health(503, f"The poller's loop last came round {ago:.0f}s ago.")
            return _health(200)
        if path == "/readyz":
            try:
                await asyncio.wait_for(self.ctx.redis.ping(), self.ctx.settings.redis_timeout_s)  # no retries
            except Exception as exc:
                return _health(503, f"Redis does not answer ({type(exc).__name__}).")
            return _health(200)
        return 404, "text/plain", b"not found\n"


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def _health(status: int, detail: str | None = None) -> tuple[int, str, bytes]:
    answer: dict[str, str] = {"status": "ok" if status == 200 else "unavailable"}
    if detail:
        answer["detail"] = detail
    return status, "application/json", json.dumps(answer).encode()


def _request_line(head: bytes) -> tuple[str, str]:
    parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    if len(parts) != 3:
        return "", ""
    return parts[0], parts[1]
