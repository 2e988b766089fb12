"""A generation's stored outputs: stable URLs, signed links, and deleting a generation with its outputs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status

from ffgate.clock import iso
from ffgate.storage.links import SignedParams
from service import output_actions as outputs
from service.deps import Generator, RuntimeDep, request_credentials, requires
from service.schemas import LinkRequest, SignedLink, problem_responses

router = APIRouter(prefix="/v1/generations", tags=["outputs"])

Index = Annotated[int, Path(ge=0, le=99, description="The output's position in `outputs`.")]
_READ_PROBLEMS = problem_responses(401, 403, 404, 410, 416, 429, 503)
_OUTPUT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/*": {}}, "description": "The image bytes (Range requests answer 206)."},
    302: {"description": "A short-lived URL of the store, or Firefly's URL until the copy is done."},
}


_generator = requires("generate")


async def _read_output(
    request: Request,
    runtime: RuntimeDep,
    genId: str,
    index: Index,
    expires: Annotated[str | None, Query(max_length=20, description="Signed link: expiry.")] = None,
    client: Annotated[str | None, Query(max_length=100, description="Signed link: its maker.")] = None,
    signature: Annotated[str | None, Query(max_length=100, description="Signed link: HMAC.")] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    if signature is not None or expires is not None or client is not None:
        params = SignedParams(expires or "", client or "", signature or "")
        record = await outputs.linked(runtime, params, genId, index)
    else:
        principal = await _generator(request, runtime, await request_credentials(request, runtime))
        record = await outputs.owned(runtime, principal, genId)
    return await outputs.serve(runtime, record, index, if_none_match)


@router.get(
    "/{genId}/outputs/{index}",
    operation_id="getGenerationOutput",
    response_class=Response,
    responses={**_OUTPUT, **_READ_PROBLEMS},
)
async def get_output(response: Annotated[Response, Depends(_read_output)]) -> Response:
    """One output's bytes, with the owner's (or the admin's) key or as a signed link (`expires`, `client`,
    `signature` from `POST .../links`, no key needed). `ETag` (the sha256), `Cache-Control: private,
    immutable`, `Content-Length`, Range requests. Until the copy into the store is done, a 302 to
    Firefly's URL; an S3 store answers with a 302 to a short-lived URL of its own. A tampered, expired or
    revoked link is a 403 problem saying which; a store that is down a 503 with `Retry-After`."""
    return response


@router.head(
    "/{genId}/outputs/{index}",
    operation_id="headGenerationOutput",
    response_class=Response,
    responses={**_OUTPUT, **_READ_PROBLEMS},
)
async def head_output(response: Annotated[Response, Depends(_read_output)]) -> Response:
    """The headers `GET` would answer with, no body."""
    return response


@router.post(
    "/{genId}/outputs/{index}/links",
    status_code=status.HTTP_201_CREATED,
    operation_id="createOutputLink",
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422, 429, 503),
)
async def create_output_link(
    runtime: RuntimeDep, principal: Generator, genId: str, index: Index, body: LinkRequest | None = None
) -> SignedLink:
    """A URL of this output that works without a key until `expiresAt`, for places that cannot send one
    (an `<img>` tag, an email). It stops working early if the client is revoked or the generation deleted."""
    link = await outputs.create_link(runtime, principal, genId, index, body.expiresIn if body else None)
    return SignedLink(url=link.url, expiresAt=iso(datetime.fromtimestamp(link.expires_at, UTC)))


@router.delete(
    "/{genId}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="deleteGeneration",
    responses=problem_responses(401, 403, 404, 409, 429, 503),
)
async def delete_generation(runtime: RuntimeDep, principal: Generator, genId: str) -> Response:
    """Delete a finished generation and its stored outputs (those no other generation shares) at once;
    a later GET is a 404. 409 while it is still queued or at Firefly (cancel it first)."""
    await outputs.delete(runtime, principal, genId)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
