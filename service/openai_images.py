"""The OpenAI Images API over custom-model generations: its request as a `GenerationRequest`, its model
names as custom models, and the finished generation as its answer (`{created, data}`).

A request is an ordinary generation (admission, quota, fair queue, budget, webhooks-less). The answer waits
for it like `Prefer: wait`, up to FFGATE_OPENAI_WAIT_S; a generation still running then is answered 504
naming its id (fetch it from `/v1/generations/{id}`), with `x-should-retry: false` so OpenAI's SDKs do not
send it again, which would run a second job. An `Idempotency-Key` header, when given, makes retries safe
even after a dropped connection (the same key and body answer the same generation).
"""

from __future__ import annotations

import base64
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ffgate.errors import FfgateError, NotFound, ServiceUnavailable, Unprocessable, UpstreamUnavailable
from ffgate.generations.records import Record
from ffgate.generations.states import Status
from service import output_actions
from service.deps import Runtime
from service.schemas import GenerationRequest, Size


class CacheOptions(BaseModel):
    """The per-request cache controls of OpenAI-compatible proxies (LiteLLM's `cache` object), as far as
    ffgate has a cache: its stored seeded generations."""

    model_config = ConfigDict(extra="forbid")

    no_cache: bool = Field(
        False,
        alias="no-cache",
        description="Generate afresh even if an identical seeded generation is stored.",
    )


class ImageGenerationRequest(BaseModel):
    """OpenAI's `POST /v1/images/generations` body, as far as Firefly custom models can honour it."""

    model_config = ConfigDict(extra="forbid")

    model: Annotated[
        str, Field(min_length=1, max_length=512, description="A custom model's assetId or displayName.")
    ]
    prompt: Annotated[str, Field(min_length=1, max_length=1024)]
    n: Annotated[int, Field(ge=1, le=4)] = 1
    size: (
        Annotated[
            str,
            Field(
                pattern=r"^[1-9][0-9]{0,3}x[1-9][0-9]{0,3}$",
                description="WxH, a preset of the model's version.",
            ),
        ]
        | None
    ) = None
    response_format: Literal["url", "b64_json"] = "url"
    user: Annotated[str, Field(max_length=256)] | None = None
    # Sent by some OpenAI clients; Firefly has no such knobs, so they are accepted and have no effect.
    quality: str | None = None
    style: str | None = None
    # ffgate's extensions (OpenAI's SDKs send them with `extra_body=`).
    seed: int | None = Field(
        None,
        description=(
            "The first image's seed (Firefly's `seeds`: image i gets seed + i). A seeded request equal to "
            "a stored one of the caller is answered from the store, with no Firefly call."
        ),
    )
    cache: CacheOptions | None = Field(
        None, description='`{"no-cache": true}`, like `Cache-Control: no-cache`: generate afresh.'
    )

    @property
    def no_cache(self) -> bool:
        return self.cache is not None and self.cache.no_cache


class ImageData(BaseModel):
    url: str | None = None
    b64_json: str | None = None


class ImagesResponse(BaseModel):
    created: int
    data: list[ImageData]


class OpenAIModel(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]


async def resolve_model(rt: Runtime, name: str, request_id: str) -> dict[str, Any]:
    """The custom model `name` names: its assetId, else its displayName (404 `model_not_found`)."""
    if rt.models is None:
        raise ServiceUnavailable("The gateway has no Adobe credentials configured.")
    items, _ = await rt.models.list("all", refresh=False, request_id=request_id)
    found = [m for m in items if m.get("assetId") == name] or [
        m for m in items if m.get("displayName") == name
    ]
    if len(found) > 1:
        message = f"{len(found)} custom models are named '{name}'; give its assetId."
        raise Unprocessable(message, errors=[{"loc": ["body", "model"], "msg": message}])
    if not found:
        raise NotFound(
            f"The model '{name}' does not exist: no custom model has that assetId or displayName.",
            code="model_not_found",
        )
    return found[0]


def generation_request(body: ImageGenerationRequest, asset_id: str) -> GenerationRequest:
    size = None
    if body.size is not None:
        width, _, height = body.size.partition("x")
        size = Size(width=int(width), height=int(height))
    seeds = None if body.seed is None else [body.seed + i for i in range(body.n)]
    return GenerationRequest(
        prompt=body.prompt,
        customModelId=asset_id,
        numVariations=body.n,
        seeds=seeds,
        size=size,
        metadata={"openai": {"user": body.user}} if body.user else None,
    )


def pending(record: Record) -> FfgateError:
    error = FfgateError(
        f"Generation {record.id} is still {record.status}; fetch it later from /v1/generations/{record.id}.",
        code="generation_pending",
    )
    error.status, error.title = 504, "Gateway Timeout"
    error.headers["x-should-retry"] = "false"
    return error


def unfinished(record: Record) -> FfgateError:
    """A generation that ended without images: the error names it (it is not retried: it ran)."""
    cause = record.error or {}
    if record.status == Status.CANCELED:
        error: FfgateError = FfgateError(f"Generation {record.id} was canceled.", code="generation_canceled")
        error.status = 409
    else:
        error = UpstreamUnavailable(
            f"Generation {record.id} failed: {cause.get('message', 'no reason given')}",
            code=str(cause.get("code") or "generation_failed"),
        )
        error.status = 502
    error.headers["x-should-retry"] = "false"
    return error


async def images_response(rt: Runtime, record: Record, response_format: str, base: str) -> ImagesResponse:
    """The images as OpenAI answers them: URLs that work without a key (signed links), or the bytes."""
    data = []
    if response_format == "url":
        data = [ImageData(url=url) for url in output_actions.keyless_urls(rt, record, base)]
    for index in range(len(record.outputs)) if response_format != "url" else ():
        try:
            content = await output_actions.output_bytes(rt, record, index)
        except FfgateError as exc:
            raise UpstreamUnavailable(
                f"The image of generation {record.id} could not be read: {exc.detail}"
            ) from exc
        data.append(ImageData(b64_json=base64.b64encode(content).decode()))
    return ImagesResponse(created=int(time.time()), data=data)


def model_list(items: list[dict[str, Any]], unavailable: set[str]) -> ModelsResponse:
    """The published custom models the API can serve, as OpenAI models (`id` = assetId)."""
    models = []
    for item in items:
        if item.get("assetId") in unavailable:
            continue
        created = item.get("createdDate")
        seconds = int(created / 1000) if isinstance(created, int | float) else 0
        models.append(
            OpenAIModel(id=str(item["assetId"]), created=seconds, owned_by="adobe-firefly-custom-models")
        )
    return ModelsResponse(data=models)
