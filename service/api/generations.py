"""Image generations with a custom model (scope `generate`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from service import generations
from service.deps import Generator, RuntimeDep
from service.logs import current_request_id
from service.schemas import Generation, GenerationRequest, problem_responses

router = APIRouter(prefix="/v1/generations", tags=["generations"])

_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
Status = Annotated[str | None, Query(pattern="^(queued|submitted|running|succeeded|failed|canceled)$")]


def _base(runtime: RuntimeDep) -> str:
    return (runtime.settings.public_base_url or "").rstrip("/")


@router.post("", status_code=status.HTTP_202_ACCEPTED, operation_id="createGeneration", responses=_PROBLEMS)
async def create_generation(
    runtime: RuntimeDep, principal: Generator, body: GenerationRequest, response: Response
) -> Generation:
    """Queue an image generation with a custom model.

    The request is checked before anything is queued: an unknown `customModelId` is a 422 naming it. The job
    is stored before the 202 is returned; follow `Location` (or `links.self`) for its progress.
    """
    record = await generations.submit(runtime, principal, body, current_request_id())
    generation = Generation.from_record(record, _base(runtime))
    response.headers["Location"] = generation.links.self
    return generation


@router.get("/{genId}", operation_id="getGeneration", responses=_PROBLEMS)
async def get_generation(
    runtime: RuntimeDep,
    principal: Generator,
    genId: str,
    wait: Annotated[int, Query(ge=0, le=60, description="Long-poll for up to this many seconds.")] = 0,
    since: Status = None,
) -> Generation:
    """A generation. With `wait=N` it answers as soon as the status differs from `since` (default: the
    status when the request arrived) or is terminal, else after N seconds."""
    if wait:
        record = await generations.wait_for_change(runtime, principal, genId, wait, since)
    else:
        record = await generations.owned(runtime, principal, genId)
    return Generation.from_record(record, _base(runtime))


@router.post(
    "/{genId}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="cancelGeneration",
    responses=_PROBLEMS,
)
async def cancel_generation(runtime: RuntimeDep, principal: Generator, genId: str) -> Generation:
    """Cancel a generation: `canceled` at once if it never left the queue, else once Firefly confirms.
    409 if it is already terminal."""
    record = await generations.cancel(runtime, principal, genId)
    return Generation.from_record(record, _base(runtime))
