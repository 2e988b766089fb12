"""The S3 side: serves job output images behind presigned URLs, as `pre-signed-firefly-prod...` does."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response

from emulator.deps import EmulatorDep
from emulator.images import MEDIA_TYPES, render, s3_error_xml

router = APIRouter(tags=["Output storage"])


def _s3_error(status: int, code: str, message: str) -> Response:
    return Response(s3_error_xml(code, message), status_code=status, media_type="application/xml")


@router.get("/images/{name}")
def get_image(name: str, request: Request, emulator: EmulatorDep) -> Response:
    """An output image. A plain `def`: FastAPI runs it in its threadpool, keeping rendering off the loop."""
    path = f"/images/{name}"
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
    data = render(job.seeds[index], job.prompt, job.width, job.height, image_format)
    return Response(
        data,
        media_type=MEDIA_TYPES[image_format],
        headers={"cache-control": "private, max-age=3600"},
    )
