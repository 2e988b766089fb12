"""Image generations with a custom model (scope `generate`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from ffgate.budget.eta import places, queue_place
from ffgate.generations.records import Record
from ffgate.generations.states import Status
from ffgate.generations.views import Generation
from ffgate.logs import current_request_id
from ffgate.numbers import ascii_int
from service import generation_actions as generations
from service.deps import AuthenticatedFirst, Generator, RuntimeDep, Submitter
from service.schemas import (
    DeliveryList,
    GenerationList,
    GenerationRequest,
    problem_responses,
    with_headers,
)

router = APIRouter(prefix="/v1/generations", tags=["generations"], route_class=AuthenticatedFirst)

# OpenAPI 3.1: the `schema` of an event stream describes each event.
SSE_EVENT = {
    "type": "object",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "The record's sequence number."},
        "event": {"type": "string", "enum": [s.value for s in Status]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": "#/components/schemas/Generation"},
        },
    },
}
_SUBMITTED = with_headers("Location", "Idempotent-Replayed", "Preference-Applied")
StatusFilter = Annotated[Status | None, Query()]
REPLAYED_HEADER = "Idempotent-Replayed"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retry-safe submits: the same key and body within 24 h return the original job.",
    ),
]

CacheControl = Annotated[
    str | None,
    Header(
        alias="Cache-Control",
        description="`no-cache`: generate afresh even if a stored identical seeded generation would answer.",
    ),
]


def _base(runtime: RuntimeDep) -> str:
    return (runtime.settings.public_base_url or "").rstrip("/")


async def _present(runtime: RuntimeDep, record: Record) -> Generation:
    """The generation as clients see it: with its place and ETA while it waits in the fair queue."""
    queue = await queue_place(runtime.fairqueue, record)
    return Generation.from_record(record, _base(runtime), queue)


async def present_all(runtime: RuntimeDep, records: list[Record]) -> list[Generation]:
    """A page of generations as clients see them: the queued ones' places from one snapshot."""
    found = await places(runtime.fairqueue, records)
    return [Generation.from_record(r, _base(runtime), q) for r, q in zip(records, found, strict=True)]


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Generation,
    operation_id="createGeneration",
    responses={
        200: {"model": Generation, "description": "Done within `Prefer: wait`.", "headers": _SUBMITTED},
        202: {"headers": _SUBMITTED},
        # 409: the same Idempotency-Key still being created; 502/504: looking the model up at Firefly
        **problem_responses(409, 502, 504),
    },
)
async def create_generation(
    submission: Submitter,
    body: GenerationRequest,
    idempotency_key: IdempotencyKey = None,
    prefer: Annotated[str | None, Header(description="`wait=N` (N <= 60): hold until done or N s.")] = None,
    cache_control: CacheControl = None,
) -> Response:
    """Queue an image generation with a custom model.

    The request is checked before anything is queued: an unknown `customModelId` is a 422 naming it. The job
    is stored before the 202 is returned; follow `Location` (or `links.self`) for its progress. Its
    `numVariations` count against the client's daily image quota (429 `quota-exceeded` past it).

    With `Idempotency-Key`, the same key and the same body within 24 h answer the original job again (same
    `id`, 202, `Idempotent-Replayed: true`) and queue nothing, even when sent concurrently; the same key with
    another body is a 422.

    With `Prefer: wait=N` the answer is held until the job is terminal (then 200) or N seconds pass (202).

    A request that pins every seed and equals a stored succeeded generation of the same client (every
    Firefly field and the model version) is answered at once from its stored outputs: `succeeded`, with
    `reused.from`, no Firefly call and no quota. `Cache-Control: no-cache` forces a fresh generation.
    """
    runtime = submission.runtime
    record, replayed, principal = await generations.submit(
        runtime,
        submission.credentials,
        body,
        current_request_id(),
        idempotency_key,
        fresh=generations.no_cache(cache_control),
    )
    code = status.HTTP_202_ACCEPTED
    headers: dict[str, str] = {}
    wait = preferred_wait(prefer, runtime.settings.max_wait_s)
    if wait is not None:
        record = await generations.wait_for_terminal(runtime, principal, record.id, wait)
        headers["Preference-Applied"] = f"wait={wait}"
        if record.terminal:
            code = status.HTTP_200_OK
    generation = await _present(runtime, record)
    headers["Location"] = generation.links.self
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    # Serialized once, here: the hot path of the API, and FastAPI would validate the model again first.
    return Response(generation.model_dump_json(), code, headers, media_type="application/json")


@router.get("", operation_id="listGenerations")
async def list_generations(
    runtime: RuntimeDep,
    principal: Generator,
    status: StatusFilter = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`nextCursor` of the previous page.")
    ] = None,
) -> GenerationList:
    """The caller's own generations, newest first, optionally only those in one `status`.

    Follow `nextCursor` until it is null. With a `status` filter a page may hold fewer than `limit` items
    (even none) and still have a next one.
    """
    records, next_cursor = await generations.list_own(runtime, principal, status, limit, cursor)
    return GenerationList(items=await present_all(runtime, records), nextCursor=next_cursor)


def preferred_wait(prefer: str | None, limit: int) -> int | None:
    """N from an RFC 7240 `Prefer` header holding `wait=N` (capped at `limit`), else None."""
    for preference in (prefer or "").split(","):
        name, _, value = preference.strip().partition("=")
        seconds = ascii_int(value.strip())
        if name.strip().lower() == "wait" and seconds is not None:
            return min(seconds, limit)
    return None


@router.get("/{genId}", operation_id="getGeneration", responses=problem_responses(404))
async def get_generation(
    runtime: RuntimeDep,
    principal: Generator,
    genId: str,
    wait: Annotated[int, Query(ge=0, le=60, description="Long-poll for up to this many seconds.")] = 0,
    since: StatusFilter = None,
) -> Generation:
    """A generation. With `wait=N` it answers as soon as the status differs from `since` (default: the
    status when the request arrived) or is terminal, else after N seconds."""
    if wait:
        record = await generations.wait_for_change(runtime, principal, genId, wait, since)
    else:
        record = await generations.owned(runtime, principal, genId)
    return await _present(runtime, record)


@router.post(
    "/{genId}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="cancelGeneration",
    responses=problem_responses(404, 409),
)
async def cancel_generation(runtime: RuntimeDep, principal: Generator, genId: str) -> Generation:
    """Cancel a generation: `canceled` at once if it never left the queue, else once Firefly confirms.
    409 if it is already terminal."""
    record = await generations.cancel(runtime, principal, genId)
    return await _present(runtime, record)


@router.get(
    "/{genId}/events",
    operation_id="streamGenerationEvents",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": SSE_EVENT}}},
        **problem_responses(404),
    },
)
async def stream_generation_events(
    runtime: RuntimeDep,
    principal: Generator,
    genId: str,
    request: Request,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-sent events: one per status change (`id: <sequence>`, `event: <status>`, `data: <Generation>`),
    starting with the current state and ending after the terminal one. Comment lines keep the stream alive
    every 15 s. Resume with `Last-Event-ID`: events up to that sequence are not sent again."""
    await generations.owned(runtime, principal, genId)  # 404 before the stream starts
    after = ascii_int(last_event_id.strip() if last_event_id else None) or 0
    events = generations.event_stream(
        runtime, principal, genId, after, _base(runtime), request.is_disconnected
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


@router.get("/{genId}/deliveries", operation_id="listDeliveries", responses=problem_responses(404))
async def list_deliveries(runtime: RuntimeDep, principal: Generator, genId: str) -> DeliveryList:
    """Every webhook delivery attempt for this generation, oldest first."""
    return DeliveryList(items=await generations.deliveries(runtime, principal, genId))


@router.post(
    "/{genId}/deliveries/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="redeliverWebhook",
    responses=problem_responses(404, 409),
)
async def redeliver_webhook(runtime: RuntimeDep, principal: Generator, genId: str) -> DeliveryList:
    """Send the last webhook event again (same `webhook-id`); 409 if there is no webhook or no event yet."""
    await generations.redeliver(runtime, principal, genId)
    return DeliveryList(items=await generations.deliveries(runtime, principal, genId))
