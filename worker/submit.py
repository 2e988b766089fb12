"""Sending a queued generation to Firefly, and cancelling one Firefly holds.

A POST to generate-async is never repeated once Firefly may have received it: a job found in `sending`
(its worker died mid-POST) or whose POST timed out is failed with `upstream_outcome_unknown` rather than
sent again, because Firefly has no idempotency key and a second POST would spend credits twice. A POST that
provably did not reach Firefly (connection refused, 5xx, 429) is retried with back-off.
"""

from __future__ import annotations

import logging
import time

from service.errors import (
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from service.logs import set_request_id
from worker.context import WorkerContext

log = logging.getLogger(__name__)


def error(code: str, message: str, *, retryable: bool) -> dict[str, object]:
    return {"code": code, "message": message, "retryable": retryable}


async def fail(ctx: WorkerContext, gen_id: str, allowed: tuple[str, ...], err: dict[str, object]) -> None:
    done, _ = await ctx.jobs.transition(gen_id, allowed=allowed, to="failed", fields={"error": err})
    if done:
        log.info("generation %s failed: %s", gen_id, err["code"])


async def submit(ctx: WorkerContext, gen_id: str) -> None:
    """Handle a due `submit:<id>` entry; every way out replaces or removes that entry."""
    record = await ctx.jobs.get(gen_id)
    if record is None or record.state not in ("queued", "sending"):
        await ctx.jobs.unschedule(f"submit:{gen_id}")
        return
    set_request_id(record.request_id)
    if record.state == "sending":
        # Its lease ran out: the worker that was sending it died before Firefly's answer was recorded.
        await _outcome_unknown(ctx, gen_id, "The worker sending this job stopped before Firefly answered")
        return
    wait_s = await ctx.budget.acquire()
    if wait_s > 0:
        await ctx.jobs.schedule("submit", gen_id, time.time() + wait_s)
        return
    attempt = record.submit_attempts + 1
    claimed, _ = await ctx.jobs.transition(
        gen_id, allowed=("queued",), to="sending", fields={"submitAttempts": str(attempt)}
    )
    if not claimed:  # canceled meanwhile (which removed the entry)
        return
    try:
        accepted = await ctx.firefly.submit(record.request, record.request_id)
    except UpstreamRateLimited as exc:
        log.warning("Firefly 429 on submit (level %s); pausing for %.1fs", exc.level, exc.retry_after_s)
        await ctx.budget.pause(exc.retry_after_s)
        await _requeue(ctx, gen_id, exc.retry_after_s)
    except UpstreamTimeout as exc:
        await _outcome_unknown(ctx, gen_id, exc.detail)
    except UpstreamRejected as exc:
        await fail(ctx, gen_id, ("sending",), error(exc.code, exc.detail, retryable=False))
    except UpstreamError as exc:  # unavailable (5xx / unreachable) or credentials refused: not taken
        if attempt >= ctx.settings.submit_max_attempts:
            code = "upstream_auth" if isinstance(exc, UpstreamAuthError) else "upstream_unavailable"
            await fail(
                ctx,
                gen_id,
                ("sending",),
                error(code, f"Gave up after {attempt} attempts: {exc.detail}", retryable=True),
            )
        else:
            delay = ctx.settings.submit_retry_base_s * 2 ** (attempt - 1)
            log.warning("submit of %s failed (%s); retrying in %.0fs", gen_id, exc.detail, delay)
            await _requeue(ctx, gen_id, delay)
    else:
        now = time.time()
        delay = ctx.planner.next_delay(0.0, first=True)
        await ctx.jobs.transition(
            gen_id,
            allowed=("sending",),
            to="submitted",
            fields={
                "upstreamJobId": accepted.job_id,
                "statusUrl": accepted.status_url,
                "cancelUrl": accepted.cancel_url,
                "submittedAt": repr(now),
            },
            schedule=f"poll:{now + delay}",
        )
        log.info("generation %s accepted by Firefly as %s", gen_id, accepted.job_id)
        after = await ctx.jobs.get(gen_id)
        if after is not None and after.cancel_requested and not after.terminal:
            await cancel(ctx, gen_id)


async def _outcome_unknown(ctx: WorkerContext, gen_id: str, why: str) -> None:
    message = (
        f"{why}, so Firefly may or may not have accepted the job; it was not sent again, to avoid paying "
        "twice. Submit it again if you still need it."
    )
    await fail(ctx, gen_id, ("sending",), error("upstream_outcome_unknown", message, retryable=True))


async def _requeue(ctx: WorkerContext, gen_id: str, delay_s: float) -> None:
    await ctx.jobs.transition(
        gen_id, allowed=("sending",), to="queued", schedule=f"submit:{time.time() + delay_s}"
    )


async def cancel(ctx: WorkerContext, gen_id: str) -> None:
    """Ask Firefly to cancel; the next status poll (brought forward) records the outcome."""
    record = await ctx.jobs.get(gen_id)
    if record is None or record.terminal or not record.cancel_url:
        return
    set_request_id(record.request_id)
    try:
        await ctx.firefly.cancel(record.cancel_url, record.request_id)
    except UpstreamRejected as exc:
        # 409 job_completed / job_already_canceled, 410 job_timeout: the poll will tell which it became.
        log.info("Firefly refused the cancel of %s: %s", gen_id, exc.code)
    await ctx.jobs.transition(gen_id, allowed=("submitted", "running"), schedule=f"poll:{time.time()}")
