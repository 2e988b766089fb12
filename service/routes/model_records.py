"""The operator's record of each custom model: its model version, or why the API cannot serve it
(scope `admin`). `ffgate models` does the same from the command line."""

from __future__ import annotations

from fastapi import APIRouter, status

from service.deps import Admin, RuntimeDep
from service.schemas import ModelRecordBody, ModelRecordList, ModelRecordOut, problem_responses

router = APIRouter(prefix="/v1/admin/custom-models", tags=["custom models"])


@router.get("", operation_id="listModelRecords", responses=problem_responses(401, 403, 429, 503))
async def list_model_records(runtime: RuntimeDep, _: Admin) -> ModelRecordList:
    """Every model an operator has a record of."""
    records = await runtime.model_records.all(fresh=True)
    return ModelRecordList(items=[ModelRecordOut(**r.as_json()) for r in records.values()])


@router.put(
    "/{assetId}",
    operation_id="setModelRecord",
    responses=problem_responses(400, 401, 403, 413, 415, 422, 429, 503),
)
async def set_model_record(
    runtime: RuntimeDep, _: Admin, assetId: str, body: ModelRecordBody
) -> ModelRecordOut:
    """Set the model's version (what generations with it use when they name none) and whether the API can
    serve it: `unavailable: "image5"` (trained on Image 5, which has no custom-model API) or `"retired"` (an
    Image 3 model past Adobe's end of life) refuses its generations with a 422 that says so. Replaces the
    whole record; applies to new generations at once on this gateway, within 5 s on the others."""
    record = await runtime.model_records.set(
        assetId, model_version=body.modelVersion, unavailable=body.unavailable
    )
    return ModelRecordOut(**record.as_json())


@router.delete(
    "/{assetId}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="clearModelRecord",
    responses=problem_responses(401, 403, 404, 429, 503),
)
async def clear_model_record(runtime: RuntimeDep, _: Admin, assetId: str) -> None:
    """Forget the record: the model uses FFGATE_MODEL_VERSION again and is served."""
    await runtime.model_records.clear(assetId)
