"""Custom models the gateway's Adobe credential can see (scope `models:read`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from ffgate.errors import NotFound, ServiceUnavailable
from ffgate.logs import current_request_id
from ffgate.upstream.catalogue import ModelCatalog, filter_models
from ffgate.upstream.model_records import ModelRecord, with_record
from service.deps import ModelsReader, RuntimeDep
from service.schemas import ModelList, problem_responses

router = APIRouter(prefix="/v1/custom-models", tags=["custom models"])

PublishedState = Literal[
    "all", "ready", "published", "unpublished", "queued", "training", "failed", "cancelled"
]


def _catalog(runtime: RuntimeDep) -> ModelCatalog:
    if runtime.models is None:
        raise ServiceUnavailable("The gateway has no Adobe credentials configured.")
    return runtime.models


_UPSTREAM = problem_responses(502, 504)  # a refresh from Firefly that failed or timed out


@router.get("", operation_id="listCustomModels", responses=_UPSTREAM)
async def list_custom_models(
    runtime: RuntimeDep,
    _: ModelsReader,
    trainingMode: Literal["subject", "style"] | None = None,
    publishedState: PublishedState = "published",
    refresh: Annotated[bool, Query(description="Fetch from Firefly now instead of the cache.")] = False,
) -> ModelList:
    """Firefly's custom models, every page merged, served from a cache refreshed when older than its TTL,
    each with `modelVersion` and `unavailable` as on `GET /v1/custom-models/{assetId}`.

    Without a filter it lists the published models, as Firefly does.
    """
    items, cached_at = await _catalog(runtime).list(
        publishedState, refresh=refresh, request_id=current_request_id()
    )
    records = await runtime.model_records.all()
    default = runtime.settings.model_version
    items = [
        with_record(m, records.get(m.get("assetId", "")) or ModelRecord(""), default)
        for m in filter_models(items, trainingMode)
    ]
    return ModelList(items=items, total=len(items), cachedAt=cached_at)


@router.get("/{assetId}", operation_id="getCustomModel", responses=problem_responses(404, 502, 504))
async def get_custom_model(runtime: RuntimeDep, _: ModelsReader, assetId: str) -> dict[str, Any]:
    """One model by its assetId, answered from the cached list (Firefly has no single-model GET), with
    `modelVersion` (what its generations use when they name none: the operator's record of it, else
    FFGATE_MODEL_VERSION) and `unavailable` (`image5` / `retired` when an operator marked it unservable)."""
    model = await _catalog(runtime).find(assetId, request_id=current_request_id())
    if model is None:
        raise NotFound(f"No custom model '{assetId}'.")
    record = await runtime.model_records.get(assetId)
    return with_record(model, record, runtime.settings.model_version)
