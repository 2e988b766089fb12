"""What the generation routes do: validate against the catalogue, create, read, list, wait and cancel.

A client sees only its own jobs: another client's job is answered exactly like a missing one (404), and
never listed. Only the bootstrap admin key may read any job by id.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from ffgate.budget.eta import queue_place
from ffgate.clients.authentication import Credentials, Principal, authenticate
from ffgate.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable
from ffgate.generations import records as jobs
from ffgate.generations.admission import SCOPE, Reuse
from ffgate.generations.changefeed import until_set
from ffgate.generations.idempotency import IdempotencyKey
from ffgate.generations.outputs import pins_every_seed, reuse_fingerprint
from ffgate.generations.records import Record
from ffgate.generations.states import AT_FIREFLY, State, public_status
from ffgate.generations.views import DeliveryAttempt, Generation
from ffgate.numbers import ascii_int
from ffgate.upstream import versions
from ffgate.webhooks.destinations import RefusedDestination, resolve_destination
from service.deps import Runtime
from service.response_headers import add_rate_limit_headers
from service.schemas import GenerationRequest
from service.shutdown import RETRY_HINT_MS

LIST_BATCH = 100
LIST_MAX_EXAMINED = 1000  # per page: a rare status filter returns a short page and a cursor, not a long scan


def no_cache(cache_control: str | None) -> bool:
    """`Cache-Control: no-cache` on a submit: a fresh generation even if stored outputs would answer."""
    return "no-cache" in (cache_control or "").lower()


def new_generation_id() -> str:
    return "gen_" + secrets.token_urlsafe(16)


async def submit(
    rt: Runtime,
    credentials: Credentials | Principal,
    body: GenerationRequest,
    request_id: str,
    idempotency_key: str | None,
    fresh: bool = False,
) -> tuple[Record, bool, Principal]:
    """Check the request against what Firefly can do, then write the record and queue it (before the 202).

    Returns the job, whether it is one an earlier request with this `idempotency_key` created, and the
    caller. The caller is authenticated by the script that writes the job (ffgate.generations.admission)
    when the model is in this process's copy of the catalogue, there is no webhook to check and the request
    passes its version's rules (ffgate.upstream.versions); otherwise first, before the model is looked for
    in Redis or Firefly, the webhook's address is resolved or the request is refused. The stored request
    (and what an `Idempotency-Key` fingerprints) holds the `modelVersion` it resolved to.

    A request that pins every seed may be answered from a stored generation (ffgate.generations.outputs),
    unless `fresh` (`Cache-Control: no-cache`).
    """
    who: Principal | Credentials = (
        credentials if isinstance(credentials, Principal) else credentials.admin or credentials
    )
    model = rt.models.cached(body.customModelId) if rt.models is not None else None
    if model is None or body.webhook is not None:
        who = await _authenticated(rt, who)
        model = model or await _find_model(rt, body, request_id)
    version, record = await rt.model_records.resolve(
        body.customModelId, body.modelVersion, rt.settings.model_version
    )
    checked = versions.check(body.firefly_body(), version, model)
    refusal = record.refusal()
    if refusal or not checked.ok:
        who = await _authenticated(rt, who)
        errors = [{"loc": ["body", "customModelId"], "msg": refusal}] if refusal else checked.errors
        raise Unprocessable(refusal or checked.errors[0]["msg"], errors=errors).for_caller(who.rate)
    webhook = None
    if body.webhook is not None:
        webhook = body.webhook.model_dump()
        try:
            await resolve_destination(body.webhook.url, rt.settings.webhook_allowed_cidrs)
        except RefusedDestination as exc:
            raise Unprocessable(
                str(exc), errors=[{"loc": ["body", "webhook", "url"], "msg": str(exc)}]
            ) from None
    authenticated = isinstance(who, Principal)
    given = body.as_given() | {"modelVersion": version}
    request = checked.body | {"modelVersion": version}
    reuse = None
    if pins_every_seed(request):
        reuse = Reuse(reuse_fingerprint(request, version), not fresh, rt.settings.reuse_across_clients)
    principal, created = await rt.admission.admit(
        who,
        gen_id=new_generation_id(),
        request_id=request_id,
        request=request,
        metadata=body.metadata,
        warnings=checked.warnings,
        images=body.numVariations or len(body.seeds or ()) or 1,
        idempotency=IdempotencyKey.of(idempotency_key, given) if idempotency_key else None,
        webhook=webhook,
        reuse=reuse,
    )
    if not authenticated:  # the admission script authenticated the caller
        add_rate_limit_headers(principal.rate)
    if isinstance(created, Record):
        return created, False, principal
    try:
        return await owned(rt, principal, created), True, principal
    except NotFound:
        # The key's generation was deleted (DELETE /v1/generations/{id}) or has expired: nothing to replay,
        # and queueing a new one under the same key would make the key mean two generations.
        message = (
            f"Idempotency-Key '{idempotency_key}' created generation '{created}', which no longer exists; "
            "send the request with a new key."
        )
        raise Conflict(message) from None


async def _authenticated(rt: Runtime, who: Principal | Credentials) -> Principal:
    if isinstance(who, Principal):
        return who
    principal = await authenticate(rt.api_keys, who, SCOPE)
    add_rate_limit_headers(principal.rate)
    return principal


async def _find_model(rt: Runtime, body: GenerationRequest, request_id: str) -> dict[str, Any]:
    if rt.models is None:
        raise ServiceUnavailable("The gateway has no Adobe credentials configured.")
    model = await rt.models.find(body.customModelId, request_id=request_id)
    if model is None:
        message = f"Custom model '{body.customModelId}' is not visible to the gateway's Adobe credential."
        raise Unprocessable(message, errors=[{"loc": ["body", "customModelId"], "msg": message}])
    return model


async def owned(rt: Runtime, principal: Principal, gen_id: str) -> Record:
    record = await rt.jobs.get(gen_id)
    # Another client's job is answered exactly like a missing one: existence is not leaked.
    if record is None or (record.client_id != principal.client_id and not principal.is_bootstrap_admin):
        raise NotFound(f"No generation '{gen_id}'.")
    return record


async def list_own(
    rt: Runtime, principal: Principal, status: str | None, limit: int, cursor: str | None
) -> tuple[list[Record], str | None]:
    """The caller's own jobs, newest first, from `cursor` on; and the cursor of the next page (None: done).

    With a `status` filter a page may hold fewer than `limit` jobs (even none) and still have a next page.
    """
    below = _position(cursor) if cursor else None
    found: list[Record] = []
    examined = 0
    while len(found) < limit and examined < LIST_MAX_EXAMINED:
        entries = await rt.jobs.page(principal.client_id, below, LIST_BATCH if status else limit + 1)
        expired = [gen_id for gen_id, _, record in entries if record is None]
        if expired:
            await rt.jobs.forget(principal.client_id, expired)
        for _, position, record in entries:
            if len(found) == limit:
                return found, _cursor(below)  # at least this entry is left
            examined += 1
            below = position
            if record is not None and (status is None or record.status == status):
                found.append(record)
        if len(entries) < (LIST_BATCH if status else limit + 1):
            return found, None
    return found, _cursor(below)


def _cursor(position: int | None) -> str | None:
    return None if position is None else base64.urlsafe_b64encode(f"g1:{position}".encode()).decode()


def _position(cursor: str) -> int:
    try:
        version, _, text = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        version, text = "", ""
    position = ascii_int(text)
    if version == "g1" and position is not None:
        return position
    message = "Not a cursor this API returned."
    raise Unprocessable(message, errors=[{"loc": ["query", "cursor"], "msg": message}])


async def wait_for_change(
    rt: Runtime, principal: Principal, gen_id: str, wait_s: float, since: str | None
) -> Record:
    """The record once its status differs from `since` (default: its status now) or is terminal."""
    return await _wait(rt, principal, gen_id, wait_s, lambda r, first: r.status != (since or first.status))


async def wait_for_terminal(rt: Runtime, principal: Principal, gen_id: str, wait_s: float) -> Record:
    return await _wait(rt, principal, gen_id, wait_s, lambda r, _: False)


async def _wait(
    rt: Runtime, principal: Principal, gen_id: str, wait_s: float, done: Callable[[Record, Record], bool]
) -> Record:
    """Woken by the change feed (never by polling Redis): the record once `done` or terminal, or at the
    deadline. `done` gets the record now and as it was when the wait began."""
    deadline = time.monotonic() + wait_s
    changed: asyncio.Event
    closing = rt.shutdown.closing  # the gateway is stopping: answer with the state as it is
    with rt.feed.watch(gen_id) as changed:
        first = record = await owned(rt, principal, gen_id)
        while not record.terminal and not done(record, first) and not closing.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await until_set(remaining, changed, closing)
            changed.clear()
            record = await owned(rt, principal, gen_id)
    return record


async def cancel(rt: Runtime, principal: Principal, gen_id: str) -> Record:
    record = await owned(rt, principal, gen_id)
    if record.terminal:
        raise Conflict(f"Generation '{gen_id}' is already {record.status}.")
    done, before = await rt.jobs.transition(gen_id, allowed=(State.QUEUED,), to=State.CANCELED)
    if done and rt.fairqueue is not None:
        await rt.fairqueue.remove(record.client_id, gen_id)
    if not done:
        done, before = await rt.jobs.transition(
            gen_id, allowed=(State.SENDING, *AT_FIREFLY), fields={"cancelRequested": "1"}
        )
        if not done:
            raise Conflict(f"Generation '{gen_id}' is already {public_status(before)}.")
        if before in AT_FIREFLY:
            # While `sending`, the submitting worker sees the flag once Firefly has answered.
            await run_in_threadpool(jobs.enqueue_cancel, rt.queue, gen_id)
    return await owned(rt, principal, gen_id)


KEEPALIVE_S = 15.0


async def event_stream(
    rt: Runtime,
    principal: Principal,
    gen_id: str,
    after: int,
    base_url: str,
    disconnected: Callable[[], Awaitable[bool]],
) -> AsyncIterator[str]:
    """The SSE body: the current state (unless the client has it), then each change, until terminal."""
    changed: asyncio.Event
    with rt.feed.watch(gen_id) as changed:
        while True:
            record = await owned(rt, principal, gen_id)
            if record.seq > after:
                after = record.seq
                queue = await queue_place(rt.fairqueue, record)
                data = Generation.from_record(record, base_url, queue).model_dump_json()
                yield f"id: {record.seq}\nevent: {record.status}\ndata: {data}\n\n"
            if record.terminal or await disconnected():
                return
            if rt.shutdown.closing.is_set():  # the gateway is stopping: resume elsewhere, soon
                yield f"retry: {RETRY_HINT_MS}\n\n"
                return
            if not await until_set(KEEPALIVE_S, changed, rt.shutdown.closing):
                yield ": keep-alive\n\n"
            changed.clear()


async def deliveries(rt: Runtime, principal: Principal, gen_id: str) -> list[DeliveryAttempt]:
    await owned(rt, principal, gen_id)
    return [DeliveryAttempt.model_validate(item) for item in await rt.deliveries.attempts(gen_id)]


async def redeliver(rt: Runtime, principal: Principal, gen_id: str) -> None:
    """Send the job's last webhook event again, with its `webhook-id`, retried as a new series."""
    record = await owned(rt, principal, gen_id)
    if not record.webhook_url:
        raise Conflict(f"Generation '{gen_id}' has no webhook.")
    if not record.last_webhook_id:
        raise Conflict(f"No webhook event of generation '{gen_id}' has happened yet.")
    await rt.deliveries.redeliver(gen_id, record.last_webhook_id, record.status)
