"""The OpenAI Images API on the gateway (`POST /v1/images/generations`, `GET /v1/models`), for tools that
speak it (the `openai` SDKs with `base_url`, LiteLLM, Open WebUI). The bearer is an ffgate API key; errors
are OpenAI's `{"error": {"message", "type", "param", "code"}}` (service.compat_errors)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request

from ffgate.errors import NotFound, ServiceUnavailable
from ffgate.generations.views import Generation
from ffgate.logs import current_request_id
from service import generation_actions as generations
from service import openai_images as openai
from service.deps import Generator, ModelsReader, RuntimeDep, absolute_base
from service.routes.generations import CacheControl

router = APIRouter(tags=["openai-compatible"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": 'OpenAI\'s error body: `{"error": {"message", "type", "param", "code"}}`'}
    for code in (400, 401, 403, 404, 409, 413, 415, 429, 502, 503, 504)
}


@router.post("/v1/images/generations", operation_id="openaiCreateImage", responses=_ERRORS)
async def create_image(
    request: Request,
    runtime: RuntimeDep,
    principal: Generator,
    body: openai.ImageGenerationRequest,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", min_length=1, max_length=255, description="Makes retries safe."),
    ] = None,
    cache_control: CacheControl = None,
) -> openai.ImagesResponse:
    """OpenAI's image generation with a Firefly custom model (`model` = its assetId or displayName; `n`
    1-4; `size` "WxH", a preset of the model's version; `response_format` `url` or `b64_json`). Answers once
    the images exist, waiting up to FFGATE_OPENAI_WAIT_S; after that a 504 names the generation, which
    goes on and can be fetched from `/v1/generations/{id}`.

    With `seed` (ffgate's extension), a request equal to a stored generation of the caller is answered
    from the store at once, with no Firefly call; `Cache-Control: no-cache` or `"cache": {"no-cache": true}`
    generate afresh."""
    request_id = current_request_id()
    model = await openai.resolve_model(runtime, body.model, request_id)
    wanted = openai.generation_request(body, str(model["assetId"]))
    fresh = body.no_cache or generations.no_cache(cache_control)
    record, _, _ = await generations.submit(
        runtime, principal, wanted, request_id, idempotency_key, fresh=fresh
    )
    record = await generations.wait_for_terminal(
        runtime, principal, record.id, runtime.settings.openai_wait_s
    )
    if not record.terminal:
        raise openai.pending(record)
    base = absolute_base(request, runtime)
    generation = Generation.from_record(record, base)
    if not generation.outputs:
        raise openai.unfinished(record)
    return await openai.images_response(runtime, record, body.response_format, base)


@router.get("/v1/models", operation_id="openaiListModels", responses=_ERRORS)
async def list_models(runtime: RuntimeDep, principal: ModelsReader) -> openai.ModelsResponse:
    """The custom models a generation can use: published, and not marked unavailable by an operator."""
    return await _usable(runtime)


@router.get("/v1/models/{model}", operation_id="openaiGetModel", responses=_ERRORS)
async def get_model(runtime: RuntimeDep, principal: ModelsReader, model: str) -> openai.OpenAIModel:
    """One usable custom model, by its assetId (404 `model_not_found` otherwise)."""
    found = next((m for m in (await _usable(runtime)).data if m.id == model), None)
    if found is None:
        raise NotFound(f"The model '{model}' does not exist or cannot be used.", code="model_not_found")
    return found


async def _usable(runtime: RuntimeDep) -> openai.ModelsResponse:
    if runtime.models is None:
        raise ServiceUnavailable("The gateway has no Adobe credentials configured.")
    items, _cached_at = await runtime.models.list("published", refresh=False, request_id=current_request_id())
    records = await runtime.model_records.all()
    return openai.model_list(items, {a for a, r in records.items() if r.unavailable})
