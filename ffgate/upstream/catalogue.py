"""The custom-model catalogue: Firefly's `GET /v3/custom-models` (every page) cached in Redis.

Firefly has no single-model GET, so lookups by assetId are answered from the cached `publishedState=all`
list. Each filter value Firefly knows is cached on its own, because some of them (training states) are not
visible in the model objects and cannot be derived from another list. A stale list is refreshed by one
process at a time; when Firefly cannot be reached a stale list is served rather than nothing.

Each process also keeps the lists it read, parsed, for a few seconds (`LOCAL_TTL_S`): every submit looks its
model up, and reading and parsing the whole list from Redis each time was a third of a submit's cost. A model
missing from that copy is looked for in Redis (then Firefly) before a submit is refused.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from ffgate.errors import UpstreamError
from ffgate.redis.keys import Keys
from ffgate.redis.locks import once_for_all
from ffgate.upstream.firefly import Firefly

log = logging.getLogger(__name__)

PUBLISHED_STATES = ("all", "ready", "published", "unpublished", "queued", "training", "failed", "cancelled")
MISSING_MODEL_REFRESH_S = 30.0  # a model shared a moment ago is looked for upstream at most this often
LOCAL_TTL_S = 5.0  # how long a process reuses a list it read from Redis


class ModelCatalog:
    def __init__(self, redis: aioredis.Redis, keys: Keys, firefly: Firefly, ttl_s: int) -> None:
        self._redis = redis
        self._keys = keys
        self._firefly = firefly
        self._ttl_s = ttl_s
        self._local: dict[str, tuple[float, dict[str, Any]]] = {}  # state -> (read at, monotonic; entry)

    async def list(
        self, published_state: str, *, refresh: bool, request_id: str
    ) -> tuple[list[dict[str, Any]], str]:
        """The models and the time they were fetched (RFC 3339)."""
        max_age = 0.0 if refresh else float(self._ttl_s)
        entry = await self._load(published_state, local=True)
        if entry is None or time.time() - entry["fetchedAt"] >= max_age:
            entry = await self._load(published_state)  # another process may have refreshed it meanwhile
            if entry is None or time.time() - entry["fetchedAt"] >= max_age:
                entry = await self._refresh(published_state, entry, request_id)
        return entry["items"], _rfc3339(entry["fetchedAt"])

    async def find(self, asset_id: str, *, request_id: str) -> dict[str, Any] | None:
        items, _ = await self.list("all", refresh=False, request_id=request_id)
        model = _by_id(items, asset_id)
        if model is None:
            entry = await self._load("all", local=False)
            if entry is None or time.time() - entry["fetchedAt"] > MISSING_MODEL_REFRESH_S:
                items, _ = await self.list("all", refresh=True, request_id=request_id)
                model = _by_id(items, asset_id)
        return model

    def cached(self, asset_id: str) -> dict[str, Any] | None:
        """The model, if this process's copy of the list has it and is fresh; no I/O (None: look it up)."""
        kept = self._local.get("all")
        if kept is None or time.monotonic() - kept[0] >= LOCAL_TTL_S:
            return None
        if time.time() - kept[1]["fetchedAt"] >= self._ttl_s:
            return None
        return _by_id(kept[1]["items"], asset_id)

    async def _load(self, published_state: str, *, local: bool = False) -> dict[str, Any] | None:
        kept = self._local.get(published_state)
        if local and kept is not None and time.monotonic() - kept[0] < LOCAL_TTL_S:
            return kept[1]
        raw = await self._redis.get(self._keys.models(published_state))
        if not raw:
            return None
        entry: dict[str, Any] = json.loads(raw)
        self._local[published_state] = (time.monotonic(), entry)
        return entry

    async def _refresh(
        self, published_state: str, stale: dict[str, Any] | None, request_id: str
    ) -> dict[str, Any]:
        async def landed() -> dict[str, Any] | None:
            # Someone else fetched meanwhile: take theirs when it is newer than ours.
            fresh = await self._load(published_state)
            newer = fresh is not None and (stale is None or fresh["fetchedAt"] > stale["fetchedAt"])
            return fresh if newer else None

        async def fetch() -> dict[str, Any]:
            try:
                items = await self._firefly.list_models(published_state, request_id)
            except UpstreamError:
                if stale is None:
                    raise
                log.warning("could not refresh custom models (%s); serving the cached list", published_state)
                return stale
            entry = {"fetchedAt": time.time(), "items": items}
            await self._redis.set(self._keys.models(published_state), json.dumps(entry), ex=7 * 24 * 3600)
            self._local[published_state] = (time.monotonic(), entry)
            return entry

        lock = self._keys.models_lock(published_state)
        found = await once_for_all(
            self._redis, lock, lock_ttl_s=30.0, wait_s=20.0, ready=landed, produce=fetch
        )
        # The fetch under way took too long: the stale copy, or a fetch of our own if there is none.
        return found or stale or await fetch()


def filter_models(items: list[dict[str, Any]], training_mode: str | None) -> list[dict[str, Any]]:
    if training_mode is None:
        return items
    return [m for m in items if m.get("trainingMode") == training_mode]


def _by_id(items: list[dict[str, Any]], asset_id: str) -> dict[str, Any] | None:
    return next((m for m in items if m.get("assetId") == asset_id), None)


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
