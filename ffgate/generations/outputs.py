"""The rules about a generation's outputs, in one place: what the record keeps of each, when Firefly's URL
stops working, the gateway's own stable URL, and which requests may be answered from stored outputs.

An output in the record:

    {"seed": 123, "image": {"upstreamUrl": "...", "upstreamExpiresAt": "...", "stored": false,
                            "width": 2048, "height": 2048, "contentType": "image/jpeg"}}

and once the worker has copied it into the output store (worker.mirror) also `size`, `sha256` and the
pixel size read from the bytes; a copy that could not be made before `upstreamExpiresAt` leaves
`stored: false` and says why in `storeError`. The public `image.url` is never stored: it is the gateway's
`/v1/generations/{id}/outputs/{index}`, rendered by ffgate.generations.views.
"""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

from ffgate.clock import iso
from ffgate.generations.idempotency import fingerprint

# Adobe documents the presigned URLs of a job's outputs as valid for one hour.
UPSTREAM_URL_TTL_S = 3600
CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


def upstream_expiry(url: str, seen_at: float) -> float:
    """When a presigned URL stops working (Unix seconds): from its `X-Amz-Date` + `X-Amz-Expires` (SigV4),
    or `Expires` (SigV2), else Firefly's documented hour from when the URL was seen."""
    query = {k.lower(): v[0] for k, v in parse_qs(urlparse(url).query).items() if v}
    try:
        if "x-amz-date" in query and "x-amz-expires" in query:
            signed = calendar.timegm(time.strptime(query["x-amz-date"], _AMZ_DATE))
            return float(signed + int(query["x-amz-expires"]))
        if "expires" in query:
            return float(int(query["expires"]))
    except (ValueError, OverflowError):
        pass
    return seen_at + UPSTREAM_URL_TTL_S


def epoch(iso_time: str) -> float:
    return datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()


def from_firefly(result: dict[str, Any], seen_at: float) -> list[dict[str, Any]]:
    """The record's outputs of a succeeded Firefly job (`result` of its status body), none stored yet."""
    size = result.get("size") or {}
    outputs = []
    for item in result.get("outputs") or []:
        url = str((item.get("image") or {}).get("url", ""))
        suffix = urlparse(url).path.lower().rpartition(".")[2]
        expires = datetime.fromtimestamp(upstream_expiry(url, seen_at), UTC)
        outputs.append(
            {
                "seed": item.get("seed"),
                "image": {
                    "upstreamUrl": url,
                    "upstreamExpiresAt": iso(expires),
                    "stored": False,
                    "width": size.get("width"),
                    "height": size.get("height"),
                    "contentType": CONTENT_TYPES.get(suffix),
                },
            }
        )
    return outputs


def upstream_url(image: dict[str, Any]) -> str:
    """Firefly's URL of an output (records written before outputs were stored kept it as `url`)."""
    return str(image.get("upstreamUrl") or image.get("url") or "")


def upstream_valid(image: dict[str, Any], now: float | None = None) -> bool:
    expires = image.get("upstreamExpiresAt")
    if not upstream_url(image):
        return False
    return expires is None or (now if now is not None else time.time()) < epoch(str(expires))


def pending(image: dict[str, Any]) -> bool:
    """Still to be copied: neither stored nor given up."""
    return not image.get("stored") and not image.get("storeError")


def output_path(gen_id: str, index: int) -> str:
    return f"/v1/generations/{gen_id}/outputs/{index}"


def pins_every_seed(request: dict[str, Any]) -> bool:
    """Whether Firefly's outputs are fully determined by the request: a seed for every image."""
    seeds = request.get("seeds")
    return isinstance(seeds, list) and bool(seeds) and request.get("numVariations") in (None, len(seeds))


def reuse_fingerprint(request: dict[str, Any], model_version: str) -> str:
    """Equal for two requests Firefly would answer with the same images: every Firefly field of the body
    (gateway-only fields are not in it) and the model version it is sent with. `numVariations` is implied
    by the seeds, so giving it or not makes no difference."""
    body = {k: v for k, v in request.items() if k != "numVariations"}
    return fingerprint({"request": body, "modelVersion": model_version})
