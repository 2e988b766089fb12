"""Custom models: the in-memory catalog and the `GET /v3/custom-models` query rules (firefly-api.md §2.1)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

from emulator.seed import BASE_MODELS, ImageModel, image_model_of, seed_models
from emulator.validation import ModelFacts

TrainingStatus = Literal["ready", "queued", "training", "failed", "cancelled"]

SORT_FIELDS = ("assetName", "createdDate", "modifiedDate")
PUBLISHED_FILTERS = ("all", "ready", "published", "unpublished", "queued", "training", "failed", "cancelled")
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 50


class BadQuery(Exception):
    """A query parameter Firefly would answer 400 for; the text becomes the `message`."""


class BaseModelRef(BaseModel):
    name: str = "clio_v2"
    version: str = "2.0.0"


def _now_ms() -> int:
    return int(time.time() * 1000)


class CustomModel(BaseModel):
    """One entry of `custom_models`, exactly the fields Firefly returns; unset ones get plausible values."""

    model_config = ConfigDict(extra="ignore")

    assetId: str = Field(min_length=1)
    version: str = "1"
    assetName: str = ""
    size: int = 16_513_991_265
    etag: str = '"0"'
    trainingMode: Literal["subject", "style"] = "style"
    mediaType: str = "application/vnd.adobe.ffmodel+dcx"
    createdDate: int = Field(default_factory=_now_ms)
    modifiedDate: int = Field(default_factory=_now_ms)
    publishedState: Literal["never", "published", "unpublished"] = "never"
    baseModel: BaseModelRef = Field(default_factory=BaseModelRef)
    samplePrompt: str = ""
    displayName: str = ""
    conceptId: str = ""


class ModelIn(CustomModel):
    """Control API body: a model plus what only the emulator knows about: its training status, and the image
    model it was trained on (which, when given, sets `baseModel` to the emulator's value for it)."""

    trainingStatus: TrainingStatus = "ready"
    imageModel: ImageModel | None = None


@dataclass(frozen=True, slots=True)
class ModelQuery:
    sort_by: str
    start: int
    limit: int
    published_state: str


@dataclass(slots=True)
class StoredModel:
    info: dict[str, Any]
    training_status: str

    @property
    def image_model(self) -> ImageModel | None:
        return image_model_of(self.info["baseModel"])

    def facts(self) -> ModelFacts:
        return ModelFacts(
            training_status=self.training_status,
            training_mode=self.info["trainingMode"],
            concept_id=self.info["conceptId"],
            image_model=self.image_model,
        )


class ModelStore:
    def __init__(self) -> None:
        self._models: dict[str, StoredModel] = {}
        self.reset()

    def reset(self) -> None:
        self._models = {info["assetId"]: StoredModel(info, status) for info, status in seed_models()}

    def put(self, model: ModelIn) -> dict[str, Any]:
        info = model.model_dump(exclude={"trainingStatus", "imageModel"})
        if model.imageModel is not None:
            info["baseModel"] = dict(BASE_MODELS[model.imageModel])
        if not info["assetName"]:
            info["assetName"] = f"{info['displayName'] or 'Custom Model'}.ffcustommodel"
        stored = StoredModel(info, model.trainingStatus)
        self._models[model.assetId] = stored
        return self.describe(stored)

    def delete(self, asset_id: str) -> bool:
        return self._models.pop(asset_id, None) is not None

    def get(self, asset_id: str) -> StoredModel | None:
        return self._models.get(asset_id)

    def facts(self, asset_id: str) -> ModelFacts | None:
        model = self._models.get(asset_id)
        return None if model is None else model.facts()

    def everything(self) -> list[dict[str, Any]]:
        """Every model with what only the emulator knows: `trainingStatus` and `imageModel`."""
        return [self.describe(m) for m in self._models.values()]

    @staticmethod
    def describe(model: StoredModel) -> dict[str, Any]:
        return {**model.info, "trainingStatus": model.training_status, "imageModel": model.image_model}

    def listing(self, query: ModelQuery) -> dict[str, Any]:
        """The 200 body of `GET /v3/custom-models` for an already parsed query."""
        selected = [m for m in self._models.values() if _matches(m, query.published_state)]
        field = query.sort_by.lstrip("-")
        # assetId breaks ties so pages never shuffle between calls.
        selected.sort(key=lambda m: m.info["assetId"])
        selected.sort(key=lambda m: _sort_key(m.info[field]), reverse=query.sort_by.startswith("-"))
        page = selected[query.start : query.start + query.limit]
        links: dict[str, Any] = {
            "page": {
                "href": "/v3/custom-models?start={start}&limit={limit}",
                "rel": "page",
                "templated": True,
            }
        }
        if query.start + query.limit < len(selected):
            params = {
                "start": query.start + query.limit,
                "limit": query.limit,
                "publishedState": query.published_state,
                "sortBy": query.sort_by,
            }
            links["next"] = {
                "href": f"/v3/custom-models?{urlencode(params)}",
                "rel": "next",
                "templated": False,
            }
        return {
            "custom_models": [dict(m.info) for m in page],
            "_links": links,
            "total_count": len(selected),
        }


def parse_model_query(params: dict[str, str]) -> ModelQuery:
    """Apply the documented defaults and ranges; raises `BadQuery` with the reason otherwise."""
    sort_by = params.get("sortBy", "modifiedDate")
    if "," in sort_by:
        raise BadQuery("Sorting by more than one field is not supported.")
    if sort_by.lstrip("-") not in SORT_FIELDS or sort_by.startswith("--"):
        raise BadQuery(f"sortBy must be one of {', '.join(SORT_FIELDS)}, optionally prefixed with '-'.")
    published = params.get("publishedState", "published")
    if published not in PUBLISHED_FILTERS:
        raise BadQuery(f"publishedState must be one of {', '.join(PUBLISHED_FILTERS)}.")
    raw_limit = params.get("limit")
    raw_start = params.get("start")
    if raw_limit is not None and raw_start is None:
        raise BadQuery("start is required when limit is given.")
    start = _parse_int("start", raw_start or "0", 0, None)
    limit = DEFAULT_PAGE_SIZE if raw_limit is None else _parse_int("limit", raw_limit, 1, MAX_PAGE_SIZE)
    return ModelQuery(sort_by=sort_by, start=start, limit=limit, published_state=published)


def _parse_int(name: str, raw: str, low: int, high: int | None) -> int:
    if not raw.isascii() or not raw.isdigit():
        raise BadQuery(f"{name} must be an integer.")
    value = int(raw)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadQuery(f"{name} must be {bound}.")
    return value


def _matches(model: StoredModel, published_state: str) -> bool:
    if published_state == "all":
        return True
    if published_state in ("published", "unpublished"):
        return bool(model.info.get("publishedState") == published_state)
    return model.training_status == published_state


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, str):
        return (1, value.casefold())
    return (0, value)
