"""Firefly's request and response shapes (shared/research/firefly-api.md §2-4) for the gateway's
Firefly-compatible surface: the custom-models page, the 202 of generate-async and the status body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ffgate.errors import BadRequest
from ffgate.generations.records import Record
from ffgate.generations.states import Status
from ffgate.generations.views import Generation
from ffgate.upstream.catalogue import PUBLISHED_STATES
from ffgate.upstream.versions import DEFAULT_SIZE

SORT_FIELDS = ("assetName", "createdDate", "modifiedDate")
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 50
# Our statuses as Firefly's: a job still in ffgate's queue is `pending` to Firefly's clients too.
FIREFLY_STATUS = {
    Status.QUEUED: "pending",
    Status.SUBMITTED: "pending",
    Status.RUNNING: "running",
    Status.SUCCEEDED: "succeeded",
    Status.FAILED: "failed",
    Status.CANCELED: "cancelled",
}


@dataclass(frozen=True)
class ModelQuery:
    published_state: str
    sort_by: str
    start: int
    limit: int


def parse_model_query(params: dict[str, str]) -> ModelQuery:
    """`GET /v3/custom-models` query parameters with Firefly's defaults and ranges (400 otherwise)."""
    sort_by = params.get("sortBy", "modifiedDate")
    if sort_by.removeprefix("-") not in SORT_FIELDS:
        raise BadRequest(f"sortBy must be one of {', '.join(SORT_FIELDS)}, optionally prefixed with '-'.")
    published = params.get("publishedState", "published")
    if published not in PUBLISHED_STATES:
        raise BadRequest(f"publishedState must be one of {', '.join(PUBLISHED_STATES)}.")
    if "limit" in params and "start" not in params:
        raise BadRequest("start is required when limit is given.")
    start = _integer(params, "start", 0, 0, None)
    limit = _integer(params, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    return ModelQuery(published, sort_by, start, limit)


def _integer(params: dict[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < low or (high is not None and int(raw) > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadRequest(f"{name} must be an integer {bound}.")
    return int(raw)


def models_page(items: list[dict[str, Any]], query: ModelQuery) -> dict[str, Any]:
    """Firefly's `CustomModelsFF3pInfo` for one page of `items` (every model of the filter)."""
    field = query.sort_by.removeprefix("-")
    ordered = sorted(items, key=lambda m: str(m.get("assetId", "")))  # ties: pages never shuffle
    ordered.sort(key=lambda m: _sort_key(m.get(field)), reverse=query.sort_by.startswith("-"))
    page = ordered[query.start : query.start + query.limit]
    links: dict[str, Any] = {
        "page": {"href": "/v3/custom-models?start={start}&limit={limit}", "rel": "page", "templated": True}
    }
    if query.start + query.limit < len(ordered):
        params = {
            "start": query.start + query.limit,
            "limit": query.limit,
            "publishedState": query.published_state,
            "sortBy": query.sort_by,
        }
        links["next"] = {"href": f"/v3/custom-models?{urlencode(params)}", "rel": "next", "templated": False}
    return {"custom_models": page, "_links": links, "total_count": len(ordered)}


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, str):
        return (1, value.casefold())
    if isinstance(value, int | float):
        return (0, value)
    return (2, "")


def accepted_body(gen_id: str, base_url: str) -> dict[str, str]:
    return {
        "jobId": gen_id,
        "statusUrl": f"{base_url}/v3/status/{gen_id}",
        "cancelUrl": f"{base_url}/v3/cancel/{gen_id}",
    }


def status_body(record: Record, generation: Generation) -> dict[str, Any]:
    """Firefly's `GET /v3/status/{jobId}` body for a generation."""
    status = FIREFLY_STATUS[generation.status]
    body: dict[str, Any] = {"jobId": generation.id, "status": status}
    if status == "succeeded":
        size = record.request.get("size") or {"width": DEFAULT_SIZE[0], "height": DEFAULT_SIZE[1]}
        result: dict[str, Any] = {
            "size": {"width": size["width"], "height": size["height"]},
            "outputs": [{"seed": o.seed, "image": {"url": o.image.url}} for o in generation.outputs],
        }
        if record.request.get("contentClass"):
            result["contentClass"] = record.request["contentClass"]
        body["result"] = result
    elif status == "failed" and generation.error is not None:
        body["error_code"] = generation.error.code
        body["message"] = generation.error.message
    return body
