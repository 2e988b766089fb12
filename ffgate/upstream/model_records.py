"""The operator's record of each custom model: which `x-model-version` it generates with, and whether the
API can serve it at all.

Adobe documents no rule from a model's `baseModel` to its `x-model-version`, and lists Image 5 models that
its API cannot serve (there is no `image5_custom`), so an operator says so, per model, with
`PUT /v1/admin/custom-models/{assetId}` or `ffgate models set`. Stored in one Redis hash
(`model-records`: assetId -> JSON), read by every gateway. A process reuses what it read for `LOCAL_TTL_S`
(every submit resolves its model's version); a change made through this process applies at once, one made
elsewhere within that time.

A generation's version is, in order: the request's `modelVersion`, the model's record, `FFGATE_MODEL_VERSION`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal

import redis.asyncio as aioredis

from ffgate.clock import utcnow
from ffgate.errors import NotFound, Unprocessable
from ffgate.redis.keys import Keys
from ffgate.upstream.versions import MODEL_VERSIONS

Unavailable = Literal["image5", "retired"]
UNAVAILABLE: tuple[Unavailable, ...] = ("image5", "retired")
LOCAL_TTL_S = 5.0


@dataclass(frozen=True)
class ModelRecord:
    asset_id: str
    model_version: str | None = None  # None: FFGATE_MODEL_VERSION
    unavailable: Unavailable | None = None  # set: the model is refused (422), saying why
    updated_at: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "assetId": self.asset_id,
            "modelVersion": self.model_version,
            "unavailable": self.unavailable,
            "updatedAt": self.updated_at,
        }

    def refusal(self) -> str | None:
        """Why a generation with this model is refused (None: it is not)."""
        if self.unavailable == "image5":
            return (
                f"Custom model {self.asset_id} was trained on Firefly Image 5, which Adobe's API cannot "
                "serve for custom models (there is no image5_custom). Retrain it on Image 4 in the Firefly "
                "web app "
                "(Duplicate, then choose Image Model 4), or use another model."
            )
        if self.unavailable == "retired":
            return (
                f"Custom model {self.asset_id} was trained on Firefly Image 3; Adobe retired Image 3 custom "
                "models on 2026-06-10. Retrain it on Image 4 in the Firefly web app, or use another model."
            )
        return None


def _decoded(asset_id: str, raw: bytes | str) -> ModelRecord:
    data = json.loads(raw)
    return ModelRecord(asset_id, data.get("modelVersion"), data.get("unavailable"), data.get("updatedAt", ""))


class ModelRecords:
    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._key = keys.model_records
        self._local: tuple[float, dict[str, ModelRecord]] | None = None

    async def all(self, *, fresh: bool = False) -> dict[str, ModelRecord]:
        if not fresh and self._local is not None and time.monotonic() - self._local[0] < LOCAL_TTL_S:
            return self._local[1]
        raw: dict[bytes, bytes] = await self._redis.hgetall(self._key)  # type: ignore[assignment]
        records = {k.decode(): _decoded(k.decode(), v) for k, v in raw.items()}
        self._local = (time.monotonic(), records)
        return records

    async def get(self, asset_id: str) -> ModelRecord:
        """The model's record (an empty one when the operator set nothing)."""
        return (await self.all()).get(asset_id) or ModelRecord(asset_id)

    async def set(self, asset_id: str, *, model_version: str | None, unavailable: str | None) -> ModelRecord:
        if model_version is not None and model_version not in MODEL_VERSIONS:
            raise Unprocessable(f"modelVersion must be one of {', '.join(MODEL_VERSIONS)}.")
        if unavailable is not None and unavailable not in UNAVAILABLE:
            raise Unprocessable(f"unavailable must be one of {', '.join(UNAVAILABLE)}.")
        record = ModelRecord(asset_id, model_version, unavailable, utcnow())
        stored = {"modelVersion": model_version, "unavailable": unavailable, "updatedAt": record.updated_at}
        await self._redis.hset(self._key, asset_id, json.dumps(stored))
        self._local = None
        return record

    async def clear(self, asset_id: str) -> None:
        removed = await self._redis.hdel(self._key, asset_id)
        self._local = None
        if not removed:
            raise NotFound(f"No record of custom model '{asset_id}'.")

    async def resolve(self, asset_id: str, asked: str | None, default: str) -> tuple[str, ModelRecord]:
        """The version a generation with `asset_id` uses, and the model's record."""
        record = await self.get(asset_id)
        return asked or record.model_version or default, record


def with_record(model: dict[str, Any], record: ModelRecord, default_version: str) -> dict[str, Any]:
    """A listed model as the gateway shows it: Firefly's fields, plus `modelVersion` (what its generations
    use when they name none) and `unavailable` (null, `image5` or `retired`)."""
    return {
        **model,
        "modelVersion": record.model_version or default_version,
        "unavailable": record.unavailable,
    }
