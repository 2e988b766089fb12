"""The S3 side: serves job output images behind presigned URLs, as `pre-signed-firefly-prod...` does."""

from __future__ import annotations

import asyncio
import time

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response

from emulator.deps import EmulatorDep
from emulator.images import MEDIA_TYPES, render, s3_error_xml

router = APIRouter(tags=["Output storage"])
_S3_FAULTS = {
    403: ("AccessDenied", "Access Denied"),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}


def _s3_error(status: int, code: str, message: str) -> Response:
    return Response(s3_error_xml(code, message), status_code=status, media_type="application/xml")


@router.get("/images/{name}")
async def get_image(name: str, request: Request, emulator: EmulatorDep) -> Response:
    """An output image, drawn in a worker thread (rendering is CPU-bound). A scripted `image` fault delays
    it or answers an S3 error instead (503 SlowDown, 500 InternalError, 403 AccessDenied...)."""
    path = f"/images/{name}"
    fault = emulator.faults.take("image", time.time())
    if fault is not None:
        await asyncio.sleep(fault.delayS)
        if fault.status is not None:
            return _s3_error(
                fault.status, *_S3_FAULTS.get(fault.status, ("InternalError", "Scripted fault."))
            )
    refusal = emulator.signer.check(path, request.query_params, time.time())
    if refusal is not None:
        return _s3_error(403, *refusal)
    key = name.partition(".")[0]
    found = emulator.images.get(key)
    if found is None or emulator.image_path(key) != path:
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    job, index = found
    # Drawn at the size the job's result reports (already scaled to the configured cap).
    image_format = emulator.settings.image_format
    pad = (emulator.settings.image_min_bytes, emulator.settings.image_max_bytes)
    data = await anyio.to_thread.run_sync(
        render, job.seeds[index], job.prompt, job.width, job.height, image_format, pad
    )
    return Response(
        data,
        media_type=MEDIA_TYPES[image_format],
        headers={"cache-control": "private, max-age=3600"},
    )
