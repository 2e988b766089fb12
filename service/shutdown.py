"""The gateway's SIGTERM, in three steps, so no client notices a restart:

1. for FFGATE_GATEWAY_DRAIN_S `/readyz` answers 503 while everything else is served as usual, so a load
   balancer stops sending new requests here;
2. then every long-poll (`?wait=`, `Prefer: wait`) answers at once with the current state (200), and every
   event stream ends cleanly after a `retry:` hint (the client resumes with `Last-Event-ID` elsewhere);
3. uvicorn stops, giving requests still running up to FFGATE_GATEWAY_GRACE_S.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from types import FrameType

import uvicorn

log = logging.getLogger(__name__)

RETRY_HINT_MS = 1000


class Shutdown:
    def __init__(self) -> None:
        self.draining = False
        self._closing: asyncio.Event | None = None

    @property
    def closing(self) -> asyncio.Event:
        """Set once waits must answer and streams end (made on first use, on the serving loop)."""
        if self._closing is None:
            self._closing = asyncio.Event()
        return self._closing

    def begin(self, loop: asyncio.AbstractEventLoop, drain_s: float) -> None:
        self.draining = True
        loop.call_later(drain_s, self.closing.set)


class DrainingServer(uvicorn.Server):
    """A uvicorn server whose first SIGTERM/SIGINT drains (steps 1 and 2) before it stops; a second signal
    stops it at once, as uvicorn's own does."""

    def __init__(self, config: uvicorn.Config, shutdown: Shutdown, drain_s: float) -> None:
        super().__init__(config)
        self.stop_plan = shutdown
        self.drain_s = drain_s

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.stop_plan.draining or sig not in (signal.SIGTERM, signal.SIGINT):
            super().handle_exit(sig, frame)
            return
        loop = asyncio.get_event_loop()
        log.info(
            "stopping: /readyz answers 503 for %.0fs, then waits are answered and streams end", self.drain_s
        )
        loop.call_soon_threadsafe(self._drain, loop)

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        self.stop_plan.begin(loop, self.drain_s)
        # Step 3 a moment after step 2: the answered waits and ended streams are sent first.
        loop.call_later(self.drain_s + 0.5, setattr, self, "should_exit", True)


def drain_on_sigterm(shutdown: Shutdown, drain_s: float) -> None:
    """The same stop where uvicorn's own server runs the process (each process of `serve --workers N`,
    which uvicorn's supervisor starts and, on its SIGTERM, sends a SIGTERM each): the handler that server
    installed is wrapped, so the first SIGTERM drains (steps 1 and 2) before the server hears it; a second
    reaches it at once. Must run on the serving loop, once the server handles signals (as the app is
    loaded). SIGINT is left as it is: a Ctrl-C reaches every process of the group and the supervisor's
    SIGTERM follows it, so only an immediate stop would mean anything there."""
    loop = asyncio.get_running_loop()
    server_handler = signal.getsignal(signal.SIGTERM)
    if not callable(server_handler):
        return  # no server listening for signals here (not the main thread)

    def handle(sig: int, frame: FrameType | None) -> None:
        if shutdown.draining:
            server_handler(sig, frame)
            return
        log.info("stopping: /readyz answers 503 for %.0fs, then waits are answered and streams end", drain_s)
        shutdown.draining = True  # a second signal stops at once, even before the loop runs `drain`
        loop.call_soon_threadsafe(drain, sig)

    def drain(sig: int) -> None:
        shutdown.begin(loop, drain_s)
        loop.call_later(drain_s + 0.5, server_handler, sig, None)

    signal.signal(signal.SIGTERM, handle)
