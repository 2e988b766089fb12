"""What the generation routes do: validate against the catalogue, create, read, wait and cancel."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time

from starlette.concurrency import run_in_threadpool

from service import jobs
from service.auth import ADMIN_CLIENT_ID, Principal
from service.deps import Runtime
from service.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable
from service.jobs import Record
from service.schemas import GenerationRequest


def new_generation_id() -> str:
    return "gen_" + secrets.token_urlsafe(16)


async def submit(rt: Runtime, principal: Principal, body: GenerationRequest, request_id: str) -> Record:
    """Check the request against what Firefly can do, then write the record and queue it (before the 202)."""
    if rt.models is None:
        raise ServiceUnavailable("The gateway has no Adobe credentials configured.")
    model = await rt.models.find(body.customModelId, request_id=request_id)
    if model is None:
        message = f"Custom model '{body.customModelId}' is not visible to the gateway's Adobe credential."
        raise Unprocessable(message, errors=[{"loc": ["body", "customModelId"], "msg": message}])
    gen_id = new_generation_id()
    await rt.jobs.create(
        gen_id=gen_id,
        client_id=principal.client_id,
        request_id=request_id,
        request=body.firefly_body(),
        metadata=body.metadata,
        warnings=warnings_for(body, model),
    )
    return await owned(rt, principal, gen_id)


def warnings_for(body: GenerationRequest, model: dict[str, object]) -> list[str]:
    warnings = []
    concept = str(model.get("conceptId") or "")
    if model.get("trainingMode") == "subject" and concept and concept.lower() not in body.prompt.lower():
        warnings.append(
            f"The prompt does not mention '{concept}', the concept of this subject model; "
            "Firefly applies a subject model to the prompt's mention of its concept."
        )
    if body.negativePrompt:
        warnings.append(
            "Adobe documents negativePrompt as not supported for custom models; it may be ignored."
        )
    if model.get("publishedState") not in (None, "published"):
        warnings.append(f"The model is {model.get('publishedState')}, not published.")
    return warnings


async def owned(rt: Runtime, principal: Principal, gen_id: str) -> Record:
    record = await rt.jobs.get(gen_id)
    # Another client's job is answered exactly like a missing one: existence is not leaked.
    if record is None or (record.client_id != principal.client_id and principal.client_id != ADMIN_CLIENT_ID):
        raise NotFound(f"No generation '{gen_id}'.")
    return record


async def wait_for_change(
    rt: Runtime, principal: Principal, gen_id: str, wait_s: float, since: str | None
) -> Record:
    """The record once its status differs from `since` (default: its status now) or is terminal."""
    deadline = time.monotonic() + wait_s
    changed: asyncio.Event
    with rt.feed.watch(gen_id) as changed:
        record = await owned(rt, principal, gen_id)
        since = since or record.status
        while not record.terminal and record.status == since:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=remaining)
            changed.clear()
            record = await owned(rt, principal, gen_id)
    return record


async def cancel(rt: Runtime, principal: Principal, gen_id: str) -> Record:
    record = await owned(rt, principal, gen_id)
    if record.terminal:
        raise Conflict(f"Generation '{gen_id}' is already {record.status}.")
    done, before = await rt.jobs.transition(gen_id, allowed=("queued",), to="canceled")
    if not done:
        done, before = await rt.jobs.transition(
            gen_id, allowed=("sending", "submitted", "running"), fields={"cancelRequested": "1"}
        )
        if not done:
            raise Conflict(f"Generation '{gen_id}' is already {jobs.public_status(before)}.")
        if before in ("submitted", "running"):
            # While `sending`, the submitting worker sees the flag once Firefly has answered.
            await run_in_threadpool(jobs.enqueue_cancel, rt.queue, gen_id)
    return await owned(rt, principal, gen_id)
