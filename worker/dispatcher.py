"""The submit dispatcher: every worker process runs one on its event loop, beside the scheduler.

It asks the fair queue for the next jobs whenever it has free submit slots (FFGATE_SUBMIT_CONCURRENCY, a lane
of its own: status calls and deliveries never hold one), one job per free slot; the dispatch script answers
with the jobs it claimed (each sent at once, concurrently, in a slot of its own), the time until the budget or
the breaker lets one go (slept through), or nothing (then it waits for the `wake` channel, on which every new
or returning job is announced). Every few seconds it also fails the jobs queued longer than
FFGATE_MAX_QUEUE_S.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from worker.context import WorkerContext
from worker.submit import expire_queued, send

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 5.0
MAX_SLEEP_S = 5.0  # a safety net: new work and a closing breaker wake the dispatcher at once
DISPATCH_BATCH = 16  # jobs claimed by one dispatch call at most, one free submit slot each


class Dispatcher:
    def __init__(
        self,
        ctx: WorkerContext,
        slots: asyncio.Semaphore,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        stopping: asyncio.Event,
    ) -> None:
        self.ctx = ctx
        self.wake = asyncio.Event()
        self._slots = slots
        self._spawn = spawn  # runs the send as a task that releases its slot when done
        self._stopping = stopping

    async def run(self) -> None:
        sweep_at = 0.0
        while not self._stopping.is_set():
            try:
                if time.monotonic() >= sweep_at:
                    sweep_at = time.monotonic() + SWEEP_EVERY_S
                    await expire_queued(self.ctx)
                self.wake.clear()
                await self._slots.acquire()
                taken = 1
                while taken < DISPATCH_BATCH and not self._slots.locked():  # free slots: no wait
                    await self._slots.acquire()
                    taken += 1
                try:
                    claims = await self.ctx.fairqueue.dispatch(self.ctx.settings.poll_lease_s, taken)
                except BaseException:
                    for _ in range(taken):
                        self._slots.release()
                    raise
                if isinstance(claims, list):
                    for claim in claims:
                        self._spawn(send(self.ctx, claim))
                    for _ in range(taken - len(claims)):
                        self._slots.release()
                    continue
                for _ in range(taken):
                    self._slots.release()
                await self._sleep(MAX_SLEEP_S if claims is None else min(claims, MAX_SLEEP_S))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.ctx.redis_outage.report(exc, log, "dispatcher loop error; continuing")
                await asyncio.sleep(1.0)

    async def _sleep(self, seconds: float) -> None:
        woken = asyncio.ensure_future(self.wake.wait())
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({woken, stopping}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        woken.cancel()
        stopping.cancel()
