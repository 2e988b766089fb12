"""The scheduler: every worker process runs one on its event loop. It claims due entries of the schedule
(claiming pushes an entry one lease ahead, so a dead worker's entries come back by themselves), asks Firefly
for the status of many jobs concurrently, records what changed and plans the next look; it also runs webhook
deliveries and the `submit:` entries (leases run out, back-offs over), hands `copy:` entries to the copy
lane (worker.mirror), and starts the submit dispatcher (worker.dispatcher) beside it. No job holds a worker
while it waits: a job in flight is one sorted-set entry, a queued one a member of its client's queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

from ffgate import metrics
from ffgate.errors import UpstreamError, UpstreamRateLimited, UpstreamRejected
from ffgate.generations.changefeed import listen, until_set
from ffgate.generations.outputs import from_firefly
from ffgate.generations.records import Record
from ffgate.generations.states import AT_FIREFLY, State
from ffgate.logs import bind
from worker.context import WorkerContext
from worker.deliveries import deliver
from worker.dispatcher import Dispatcher
from worker.mirror import COPY, Mirror
from worker.retention import sweep_forever
from worker.submit import error, fail, resume

log = logging.getLogger(__name__)

IDLE_WAIT_S = 1.0  # new work wakes the dispatcher at once (the `wake` channel); this is a safety net
CLAIM_BATCH = 8  # small claims spread a burst over every worker instead of the first to look
LEARN_EVERY_S = 10.0


class Scheduler:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        # One lane each: a slow status host holds poll slots only, a slow receiver delivery slots only,
        # and neither can delay a submit. Output copies have their own lane too (worker.mirror).
        self._slots = asyncio.Semaphore(ctx.settings.poll_concurrency)
        self._submit_slots = asyncio.Semaphore(ctx.settings.submit_concurrency)
        self._delivery_slots = asyncio.Semaphore(ctx.settings.delivery_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sends: set[asyncio.Task[None]] = set()
        self._deliveries: set[asyncio.Task[None]] = set()
        self.mirror = Mirror(ctx)
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self.last_turn: float | None = time.monotonic()  # its loop's last round (None: stopped), /healthz

    async def run(self) -> None:
        dispatcher = Dispatcher(self.ctx, self._submit_slots, self._spawn, self._stopping)

        def announced(_: bytes, what: bytes) -> None:
            # `deliver`: a webhook delivery due now, the scheduler's; `submit`: a job queued or back in its
            # queue, the dispatcher's. Waking the scheduler for every job queued would cost it two round
            # trips per submit for nothing.
            (self._wake if what == b"deliver" else dispatcher.wake).set()

        def subscribed() -> None:  # a message may have been missed meanwhile
            self._wake.set()
            dispatcher.wake.set()

        listener = asyncio.create_task(
            listen(self.ctx.redis, self.ctx.keys.wake, announced, subscribed, self.ctx.redis_outage)
        )
        submits = asyncio.create_task(dispatcher.run())
        sweeper = asyncio.create_task(sweep_forever(self.ctx, self._stopping))
        try:
            await self._dispatch()
        finally:
            self.last_turn = None
            listener.cancel()
            submits.cancel()
            sweeper.cancel()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a send as one of this worker's tasks, in a submit slot the dispatcher has already taken."""
        task = asyncio.create_task(self._guard(coro))
        self._sends.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._sends.discard(finished)
            self._submit_slots.release()

        task.add_done_callback(done)

    async def _guard(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except Exception as exc:
            # The job keeps its `submit:` lease, so it is looked at again once the lease runs out.
            self.ctx.redis_outage.report(exc, log, "sending a job failed")

    async def _dispatch(self) -> None:
        learn_at = 0.0
        while not self._stopping.is_set():
            self.last_turn = time.monotonic()
            try:
                if time.monotonic() >= learn_at:
                    await self._learn()
                    learn_at = time.monotonic() + LEARN_EVERY_S
                free = min(CLAIM_BATCH, self.ctx.settings.poll_concurrency - len(self._tasks))
                if free <= 0:  # every poll slot busy: wait for one rather than ask Redis again and again
                    self._slot_freed.clear()
                    await until_set(IDLE_WAIT_S, self._slot_freed, self._stopping)
                    continue
                members = await self.ctx.jobs.claim_due(free, self.ctx.settings.poll_lease_s)
                # The records of the jobs to poll, in one round trip for the whole batch.
                polls = [m.partition(":")[2] for m in members if m.startswith("poll:")]
                records = dict(zip(polls, await self.ctx.jobs.get_many(polls), strict=True)) if polls else {}
                for member in members:
                    if member.startswith(f"{COPY}:"):
                        self.mirror.take(member)  # a lane of its own (worker.mirror)
                        continue
                    if member.startswith("deliver:"):
                        # Not a poll slot: a slow receiver waits for a delivery slot of its own.
                        task = asyncio.create_task(self._handle(member, self._delivery_slots))
                        self._deliveries.add(task)
                        task.add_done_callback(self._deliveries.discard)
                        continue
                    await self._slots.acquire()
                    record = records.get(member.partition(":")[2]) if member.startswith("poll:") else None
                    task = asyncio.create_task(self._handle(member, record=record))
                    self._tasks.add(task)
                    task.add_done_callback(self._done)
                if not members:
                    await self._idle()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.ctx.redis_outage.report(exc, log, "scheduler loop error; continuing")
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        self._stopping.set()
        if self._tasks or self._sends or self._deliveries:
            pending = self._tasks | self._sends | self._deliveries
            await asyncio.wait(pending, timeout=self.ctx.settings.drain_s)
        await self.mirror.aclose()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        self._slot_freed.set()

    async def _idle(self) -> None:
        """Sleep until the next entry is due, new work is announced, or the worker stops."""
        self._wake.clear()
        due = await self.ctx.jobs.next_due()
        wait = IDLE_WAIT_S if due is None else min(IDLE_WAIT_S, max(0.0, due - time.time()))
        if wait <= 0:
            return
        await until_set(wait, self._wake, self._stopping)

    async def _learn(self) -> None:
        raw = await self.ctx.redis.lrange(self.ctx.keys.durations, 0, 199)
        self.ctx.planner.learn([float(x) for x in raw], replace=True)

    async def _handle(
        self, member: str, slots: asyncio.Semaphore | None = None, record: Record | None = None
    ) -> None:
        kind, _, gen_id = member.partition(":")
        try:
            if kind == "submit":
                await resume(self.ctx, gen_id)
            elif kind == "deliver" and slots is not None:
                async with slots:
                    await deliver(self.ctx, gen_id)
            else:
                await poll(self.ctx, gen_id, record)
        except Exception as exc:
            # The entry keeps its lease score, so it is tried again once the lease runs out.
            self.ctx.redis_outage.report(exc, log, f"handling {member} failed")


async def poll(ctx: WorkerContext, gen_id: str, record: Record | None = None) -> None:
    """Ask Firefly about a job and record the answer; `record`: the job as read when its entry was
    claimed (read here if not given)."""
    if record is None:
        record = await ctx.jobs.get(gen_id)
    if record is None or record.state not in AT_FIREFLY or not record.status_url:
        await ctx.jobs.unschedule(f"poll:{gen_id}")
        return
    bind(request_id=record.request_id, generation_id=record.id, client_id=record.client_id)
    now = time.time()
    elapsed = now - (record.submitted_at or now)
    try:
        body = await ctx.firefly.status(record.status_url, record.request_id)
    except UpstreamRateLimited as exc:
        await _reschedule(ctx, record, exc.retry_after_s)
        return
    except UpstreamRejected as exc:  # 404 unknown_job_id and the like: Firefly no longer knows it
        await fail(ctx, gen_id, AT_FIREFLY, error(exc.code, exc.detail, retryable=False))
        ctx.planner.finished(gen_id)
        return
    except UpstreamError as exc:
        errors = record.poll_errors + 1
        if errors >= ctx.settings.poll_max_errors:
            message = f"Gave up after {errors} failed status calls: {exc.detail}"
            await fail(ctx, gen_id, AT_FIREFLY, error("upstream_unavailable", message, retryable=True))
        else:
            delay = min(ctx.settings.poll_max_interval_s, 2.0**errors)
            await _reschedule(ctx, record, delay, {"pollErrors": str(errors), "polls": str(record.polls + 1)})
        return
    record.polls += 1  # this call, counted in the record by the change below
    await record_status(ctx, record, body, elapsed)


async def record_status(ctx: WorkerContext, record: Record, body: dict[str, Any], elapsed: float) -> None:
    status = str(body.get("status", ""))
    gen_id = record.id
    active = AT_FIREFLY
    if status == "succeeded" or status == "completed":
        now = time.time()
        outputs = from_firefly(body.get("result") or {}, now)
        # The copy into the output store is scheduled in the same step (worker.mirror).
        done, _ = await ctx.jobs.transition(
            gen_id,
            allowed=active,
            to=State.SUCCEEDED,
            fields={"outputs": outputs},
            schedule=f"{COPY}:{now}" if outputs else "",
        )
        if done:
            await _learned(ctx, record, elapsed)
    elif status in ("failed", "timeout"):
        code = str(body.get("error_code") or status)
        message = str(body.get("message") or f"Firefly reported the job {status}.")
        done = await fail(ctx, gen_id, active, error(code, message, retryable=status == "timeout"))
        ctx.planner.finished(gen_id)
    elif status in ("cancelled", "canceled"):
        done, _ = await ctx.jobs.transition(gen_id, allowed=active, to=State.CANCELED)
        ctx.planner.finished(gen_id)
    elif elapsed > ctx.settings.job_max_age_s:
        message = (
            f"Firefly had not finished the job after {ctx.settings.job_max_age_s}s; ffgate gave up on it."
        )
        done = await fail(ctx, gen_id, active, error("timeout", message, retryable=True))
        ctx.planner.finished(gen_id)
    else:
        if status not in ("pending", "running", "cancel_pending"):
            log.warning("unknown Firefly status %r for %s; polling on", status, gen_id)
        if record.submitted_at:
            ctx.planner.seen_running(gen_id, record.submitted_at)
        to = State.RUNNING if status in ("running", "cancel_pending") else ""
        delay = ctx.planner.next_delay(elapsed, first=False)
        fields = {"pollErrors": "0", "lastPolledAt": repr(time.time()), "polls": str(record.polls)}
        await _reschedule(ctx, record, delay, fields, to)
        return
    if done:
        metrics.STATUS_CALLS_PER_JOB.observe(record.polls)


async def _reschedule(
    ctx: WorkerContext, record: Record, delay: float, fields: dict[str, Any] | None = None, to: str = ""
) -> None:
    await ctx.jobs.transition(
        record.id,
        allowed=AT_FIREFLY,
        to=to,
        fields=fields,
        schedule=f"poll:{time.time() + delay}",
    )


async def _learned(ctx: WorkerContext, record: Record, elapsed: float) -> None:
    """Remember how long the job took (worker.poll_plan.PollPlanner.sample)."""
    ctx.planner.finished(record.id)
    if record.submitted_at is None:
        return
    done_at = record.submitted_at + elapsed
    duration = ctx.planner.sample(record.submitted_at, record.last_polled_at, done_at)
    ctx.planner.learn([duration])
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.lpush(ctx.keys.durations, f"{duration:.3f}")
    pipe.ltrim(ctx.keys.durations, 0, 199)
    await pipe.execute()
