"""Sending a claimed generation to Firefly, what happens after each answer, and cancelling one Firefly holds.

A POST to generate-async is sent again only when the answer proves Firefly did not take it
(`ffgate.upstream.firefly.proves_not_taken`: no connection was made, IMS or Firefly refused our
credentials, or a 429): after a 429 at once from the front of its client's queue (the whole budget is paused
meanwhile), otherwise once a back-off has passed, failing after `FFGATE_SUBMIT_MAX_ATTEMPTS`. Any other
failure (a timeout, a connection lost mid-request, 408, any 5xx, a 2xx without a job id) and a job found in
`sending` (its worker died mid-POST) fail it as `upstream_outcome_unknown` (retryable by the client), because
Firefly has no idempotency key and a second POST would spend credits twice. While Firefly is down (breaker
open) the jobs not yet sent stay queued, up to `FFGATE_MAX_QUEUE_S`.
"""

from __future__ import annotations

import logging
import time

from ffgate.budget.fair_queue import Claim
from ffgate.errors import (
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from ffgate.generations.records import Record
from ffgate.generations.states import AT_FIREFLY, State
from ffgate.logs import bind
from ffgate.redis.outage import REDIS_ERRORS
from ffgate.upstream.firefly import proves_not_taken
from worker.context import WorkerContext
from worker.holding import until_written

log = logging.getLogger(__name__)


def error(code: str, message: str, *, retryable: bool) -> dict[str, object]:
    return {"code": code, "message": message, "retryable": retryable}


async def fail(ctx: WorkerContext, gen_id: str, allowed: tuple[str, ...], err: dict[str, object]) -> bool:
    done, _ = await ctx.jobs.transition(gen_id, allowed=allowed, to=State.FAILED, fields={"error": err})
    if done:
        log.info("generation %s failed: %s", gen_id, err["code"])
    return done


async def send(ctx: WorkerContext, claim: Claim) -> None:
    """POST a job the dispatcher claimed (its budget spent, its state `sending`) and record the answer."""
    gen_id, record = claim.gen_id, claim.record
    # Every Redis step of a claimed job is held through an outage (worker.holding): given up, the job would
    # sit in `sending` until its lease ran out and then fail as outcome-unknown although nothing was sent.
    bind(request_id=record.request_id, generation_id=record.id, client_id=record.client_id)
    if claim.probe:
        log.info("probing Firefly with %s (circuit breaker half-open)", gen_id)
    try:
        accepted = await ctx.firefly.submit(record.request, record.request_id)
    except REDIS_ERRORS:
        # Redis failed inside the call: fetching the IMS token (nothing was sent) or pausing the budget
        # after a 429 or dropping a refused token (Firefly did not take it). Never after a 202: so the job
        # goes back to the front of its queue, once Redis answers.
        log.warning(
            "Redis failed while sending %s, before Firefly took it; it goes back to its queue", gen_id
        )
        await until_written(ctx, f"{gen_id}'s place in its queue", lambda: _back_to_queue(ctx, claim, gen_id))
        return
    except UpstreamError as exc:
        refusal = exc  # (`exc` is unbound once the block ends; the retried steps below hold on to it)
        # Timeouts and 5xx count against the breaker; any answer from Firefly clears it; IMS refusing our
        # credentials is neither.
        answered = None if isinstance(exc, UpstreamAuthError) else not _failure(exc)
        await until_written(
            ctx, f"the budget of {gen_id}'s submit", lambda: _settle(ctx, claim, answered, refusal.detail)
        )
        await until_written(
            ctx, f"Firefly's answer for {gen_id}", lambda: _refused(ctx, record, claim, refusal)
        )
        return
    # Firefly took it (and will bill it): what it said is held here until Redis has it, however long Redis
    # is away (up to FFGATE_REDIS_OUTAGE_HOLD_S). One step records it, replaces the `submit:` lease by the
    # first poll and reads whether a cancel was asked for while it was being sent.
    now = time.time()
    delay = ctx.planner.next_delay(0.0, first=True)
    fields = {
        "upstreamJobId": accepted.job_id,
        "statusUrl": accepted.status_url,
        "cancelUrl": accepted.cancel_url,
        "submittedAt": repr(now),
    }
    _, cancel_requested = await until_written(
        ctx,
        f"Firefly's job id for {gen_id}",
        lambda: ctx.jobs.submitted(gen_id, fields, schedule=f"poll:{now + delay}"),
    )
    log.info("generation %s accepted by Firefly as %s", gen_id, accepted.job_id)
    await until_written(ctx, f"the budget of {gen_id}'s submit", lambda: _settle(ctx, claim, True))
    if cancel_requested:
        await cancel(ctx, gen_id)


async def _back_to_queue(ctx: WorkerContext, claim: Claim, gen_id: str) -> None:
    await ctx.fairqueue.budget.settle(claim.budget_member)
    await ctx.fairqueue.requeue(gen_id, from_state=State.SENDING)


def _failure(exc: UpstreamError) -> bool:
    return isinstance(exc, UpstreamUnavailable | UpstreamTimeout)


async def _settle(ctx: WorkerContext, claim: Claim, answered: bool | None, reason: str = "") -> None:
    await ctx.fairqueue.budget.settle(claim.budget_member)
    if answered is None:
        return
    changed = await ctx.fairqueue.breaker.record(answered, probe=claim.probe, reason=reason)
    if changed == "opened":
        log.warning(
            "circuit breaker opened after failed submits (%s); nothing is sent for %.0fs",
            reason,
            ctx.settings.breaker_cooldown_s,
        )
    elif changed == "reopened":
        log.warning("the probe failed (%s); circuit breaker open again", reason)
    elif changed == "closed":
        log.info("the probe succeeded; circuit breaker closed")
        await ctx.redis.publish(ctx.keys.wake, "submit")


async def _refused(ctx: WorkerContext, record: Record, claim: Claim, exc: UpstreamError) -> None:
    gen_id = record.id
    if isinstance(exc, UpstreamRateLimited):
        await ctx.fairqueue.requeue(gen_id, from_state=State.SENDING)
    elif not proves_not_taken(exc):
        await _outcome_unknown(ctx, gen_id, exc.detail)
    elif isinstance(exc, UpstreamRejected):
        await fail(ctx, gen_id, (State.SENDING,), error(exc.code, exc.detail, retryable=False))
    elif claim.probe:  # the breaker is open again and holds every job; this one keeps its place
        await ctx.fairqueue.requeue(gen_id, from_state=State.SENDING)
    else:  # unreachable, or credentials refused: Firefly did not take it
        failures = record.submit_failures + 1
        if failures >= ctx.settings.submit_max_attempts:
            code = "upstream_auth" if isinstance(exc, UpstreamAuthError) else "upstream_unavailable"
            message = f"Gave up after {failures} failed attempts: {exc.detail}"
            await fail(ctx, gen_id, (State.SENDING,), error(code, message, retryable=True))
            return
        delay = ctx.settings.submit_retry_base_s * 2 ** (failures - 1)
        log.warning("submit of %s failed (%s); retrying in %.0fs", gen_id, exc.detail, delay)
        await ctx.jobs.transition(
            gen_id,
            allowed=(State.SENDING,),
            to=State.QUEUED,
            fields={"submitFailures": str(failures)},
            schedule=f"submit:{time.time() + delay}",
        )


async def resume(ctx: WorkerContext, gen_id: str) -> None:
    """Handle a due `submit:<id>` entry: the lease of a claimed job ran out (its worker died before
    Firefly's answer was recorded), or a job's back-off is over and it rejoins its client's queue."""
    record = await ctx.jobs.get(gen_id)
    if record is None or record.state not in (State.QUEUED, State.SENDING):
        await ctx.jobs.unschedule(f"submit:{gen_id}")
        return
    bind(request_id=record.request_id, generation_id=record.id, client_id=record.client_id)
    if record.state == State.SENDING:
        await _outcome_unknown(ctx, gen_id, "The worker sending this job stopped before Firefly answered")
    elif _overdue(ctx, record):
        await fail(ctx, gen_id, (State.QUEUED,), _queue_timeout(ctx))
    else:
        await ctx.fairqueue.requeue(gen_id, from_state=State.QUEUED)


async def expire_queued(ctx: WorkerContext) -> None:
    """Fail the jobs queued longer than FFGATE_MAX_QUEUE_S (the oldest sit at the fronts of the queues)."""
    max_s = ctx.settings.max_queue_s
    if not max_s:
        return
    for client, gen_id in await ctx.fairqueue.waiting_since(time.time() - max_s):
        await fail(ctx, gen_id, (State.QUEUED,), _queue_timeout(ctx))
        # Failed now, or taken meanwhile by a dispatcher, or canceled: it has no business in the queue.
        await ctx.fairqueue.remove(client, gen_id)


def _overdue(ctx: WorkerContext, record: Record) -> bool:
    max_s = ctx.settings.max_queue_s
    return bool(max_s and record.enqueued_at and time.time() - record.enqueued_at > max_s)


def _queue_timeout(ctx: WorkerContext) -> dict[str, object]:
    message = (
        f"Not sent to Firefly within {ctx.settings.max_queue_s}s of being queued (the Adobe org's budget "
        "was spent, or Firefly was unavailable). Submit it again if you still need it."
    )
    return error("queue_timeout", message, retryable=True)


async def _outcome_unknown(ctx: WorkerContext, gen_id: str, why: str) -> None:
    message = (
        f"{why}, so Firefly may or may not have accepted the job; it was not sent again, to avoid paying "
        "twice. Submit it again if you still need it."
    )
    await fail(ctx, gen_id, (State.SENDING,), error("upstream_outcome_unknown", message, retryable=True))


async def cancel(ctx: WorkerContext, gen_id: str) -> None:
    """Ask Firefly to cancel; the next status poll (brought forward) records the outcome."""
    record = await ctx.jobs.get(gen_id)
    if record is None or record.terminal or not record.cancel_url:
        return
    bind(request_id=record.request_id, generation_id=record.id, client_id=record.client_id)
    try:
        await ctx.firefly.cancel(record.cancel_url, record.request_id)
    except UpstreamRejected as exc:
        # 409 job_completed / job_already_canceled, 410 job_timeout: the poll will tell which it became.
        log.info("Firefly refused the cancel of %s: %s", gen_id, exc.code)
    await ctx.jobs.transition(gen_id, allowed=AT_FIREFLY, schedule=f"poll:{time.time()}")
