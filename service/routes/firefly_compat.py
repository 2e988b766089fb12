"""Firefly's own API on the gateway (`/v3/...`), so code written for Firefly works by changing its hosts and
credentials. Requests, answers and errors have Firefly's shapes (service.firefly_shapes, and
service.compat_errors for the errors); a job made here is an ordinary generation (the same admission: key,
scopes, rate limit, quota, fair queue, budget, idempotency, webhooks, listing). The bearer is a token from
the gateway's `/ims/token` or an ffgate API key; `x-api-key` is accepted and not required."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse

from ffgate.clients.authentication import Principal
from ffgate.errors import Conflict, NotFound, ServiceUnavailable
from ffgate.generations.records import Record
from ffgate.generations.states import Status
from ffgate.generations.views import Generation
from ffgate.logs import current_request_id
from ffgate.upstream.versions import ModelVersion
from service import firefly_shapes as shapes
from service import generation_actions as generations
from service import output_actions
from service.deps import RuntimeDep, absolute_base, requires_bearer
from service.routes.generations import CacheControl, IdempotencyKey
from service.schemas import FireflyGenerateRequest

router = APIRouter(tags=["firefly-compatible"])

Reader = Annotated[Principal, Depends(requires_bearer("models:read"))]
Generator = Annotated[Principal, Depends(requires_bearer("generate"))]
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": 'Firefly\'s error body: `{"error_code", "message"}`'}
    for code in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
}
ApiKeyHeader = Annotated[str | None, Header(alias="x-api-key", description="Accepted, not required.")]


@router.get(
    "/v3/custom-models",
    operation_id="fireflyListCustomModels",
    responses={c: {"description": 'Firefly\'s `{"reason", "message"}`'} for c in (400, 401, 403, 429, 503)},
)
async def list_custom_models(
    request: Request, runtime: RuntimeDep, principal: Reader, x_api_key: ApiKeyHeader = None
) -> dict[str, Any]:
    """Firefly's `GET /v3/custom-models`: `custom_models`, `_links`, `total_count`; `start`/`limit` paging
    (limit 1-50, default 10), `publishedState` (default `published`) and `sortBy` (`assetName`,
    `createdDate`, `modifiedDate`, `-` for descending; default `modifiedDate`). From the gateway's cache."""
    query = shapes.parse_model_query(dict(request.query_params))
    if runtime.models is None:
        raise ServiceUnavailable("The gateway has no Adobe credentials configured.")
    items, _ = await runtime.models.list(
        query.published_state, refresh=False, request_id=current_request_id()
    )
    return shapes.models_page(items, query)


@router.post(
    "/v3/images/generate-async",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="fireflyGenerateAsync",
    responses=_ERRORS,
)
async def generate_async(
    request: Request,
    runtime: RuntimeDep,
    principal: Generator,
    body: FireflyGenerateRequest,
    x_model_version: Annotated[
        ModelVersion | None,
        Header(
            alias="x-model-version", description="Default: the model's record, else FFGATE_MODEL_VERSION."
        ),
    ] = None,
    x_accept_mimetype: Annotated[
        str | None, Header(alias="x-accept-mimetype", description="Accepted; Firefly's v3 ignores it.")
    ] = None,
    x_api_key: ApiKeyHeader = None,
    idempotency_key: IdempotencyKey = None,
    cache_control: CacheControl = None,
) -> JSONResponse:
    """Firefly's `POST /v3/images/generate-async`: 202 `{jobId, statusUrl, cancelUrl}`, on the gateway.

    A request that pins every seed and equals a stored succeeded generation of the caller is answered from
    the store (the job is `succeeded` at once, no Firefly call); `Cache-Control: no-cache` or the body's
    `"noCache": true` (ffgate's extension) generate afresh."""
    if x_model_version is not None:
        body = body.model_copy(update={"modelVersion": x_model_version})
    fresh = body.noCache or generations.no_cache(cache_control)
    record, _, _ = await generations.submit(
        runtime, principal, body, current_request_id(), idempotency_key, fresh=fresh
    )
    return JSONResponse(shapes.accepted_body(record.id, absolute_base(request, runtime)), 202)


@router.get("/v3/status/{jobId}", operation_id="fireflyJobStatus", responses=_ERRORS)
async def job_status(
    request: Request, runtime: RuntimeDep, principal: Generator, jobId: str, x_api_key: ApiKeyHeader = None
) -> dict[str, Any]:
    """Firefly's `GET /v3/status/{jobId}`: `pending` (also while queued in ffgate), `running`, `succeeded`
    with `result.outputs[].image.url`, `failed` with `error_code` and `message`, or `cancelled`."""
    record = await _owned(runtime, principal, jobId)
    base = absolute_base(request, runtime)
    generation = Generation.from_record(record, base)
    return shapes.status_body(record, generation, output_actions.keyless_urls(runtime, record, base))


@router.put("/v3/cancel/{jobId}", operation_id="fireflyCancelJob", responses=_ERRORS)
async def cancel_job(
    runtime: RuntimeDep, principal: Generator, jobId: str, x_api_key: ApiKeyHeader = None
) -> dict[str, Any]:
    """Firefly's `PUT /v3/cancel/{jobId}`: 200 `{}`; 409 `job_completed` or `job_already_canceled` once the
    job is over."""
    record = await _owned(runtime, principal, jobId)
    if record.status == Status.CANCELED:
        raise Conflict("The job was already canceled.", code="job_already_canceled")
    if record.terminal:
        raise Conflict(f"The job was already completed ({record.status}).", code="job_completed")
    await generations.cancel(runtime, principal, jobId)
    return {}


async def _owned(runtime: RuntimeDep, principal: Principal, job_id: str) -> Record:
    try:
        return await generations.owned(runtime, principal, job_id)
    except NotFound:
        raise NotFound("The job id is unknown.", code="unknown_job_id") from None
