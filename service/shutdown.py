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
