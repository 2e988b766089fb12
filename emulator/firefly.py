"""Firefly Services: custom-models listing, generate-async, job status and cancel (firefly-api.md §2-4)."""

from __future__ import annotations

import json
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from emulator.deps import EmulatorDep, guard, public_base
from emulator.errors import api_error, models_error
from emulator.models import BadQuery, parse_model_query
from emulator.validation import InvalidRequest, validate_generate

router = APIRouter(tags=["Firefly"])

_UNKNOWN_JOB = ("unknown_job_id", "The job id is unknown.")


def _accepts_json(accept: str | None) -> bool:
    if accept is None or not accept.strip():
        return True
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        refused = any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params)
        if media.lower() in ("application/json", "application/*", "*/*") and not refused:
            return True
    return False


def _links(base: str, job_id: str) -> tuple[str, str, str]:
    status_url, cancel_url = f"{base}/v3/status/{job_id}", f"{base}/v3/cancel/{job_id}"
    return status_url, cancel_url, f'<{status_url}>; rel="status", <{cancel_url}>; rel="cancel"'


@router.get("/v3/custom-models", dependencies=[Depends(guard("models"))])
async def list_custom_models(request: Request, emulator: EmulatorDep) -> JSONResponse:
    """List custom models: `sortBy`, `start` + `limit` paging and the `publishedState` filter."""
    if not _accepts_json(request.headers.get("accept")):
        return models_error(406)
    try:
        query = parse_model_query(dict(request.query_params))
    except BadQuery as exc:
        return models_error(400, str(exc))
    return JSONResponse(emulator.models.listing(query))


@router.post("/v3/images/generate-async", dependencies=[Depends(guard("generate"))])
async def generate_async(request: Request, emulator: EmulatorDep) -> JSONResponse:
    """Accept an image generation job (202) after validating it as Firefly does, for its `x-model-version`:
    that version's sizes, the custom model and its concept; fields the version does not support are ignored
    and recorded (request log `ignoredFields`, stats `ignoredFields`)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return api_error(415, "invalid_content_type", "Content-Type must be application/json.")
    raw = await request.body()
    if not raw.strip():
        return api_error(400, "empty_input_body", "The request body is empty.")
    try:
        body = json.loads(raw)
    except ValueError:
        return api_error(400, "bad_request", "The request body is not valid JSON.")
    if isinstance(body, dict) and isinstance(body.get("customModelId"), str):
        request.state.custom_model_id = body["customModelId"]
    try:
        accepted = validate_generate(body, request.headers.get("x-model-version"), emulator.model_facts)
    except InvalidRequest as exc:
        return api_error(422, "validation_error", "Request validation failed.", validation_errors=exc.errors)
    job = emulator.create_job(accepted, request.headers.get("x-request-id"), time.time())
    request.state.job_id = job.job_id
    request.state.ignored_fields = job.ignored_fields
    status_url, cancel_url, link = _links(public_base(request, emulator), job.job_id)
    return JSONResponse(
        {"jobId": job.job_id, "statusUrl": status_url, "cancelUrl": cancel_url},
        status_code=202,
        headers={"link": link},
    )


@router.get("/v3/status/{job_id:path}", dependencies=[Depends(guard("status"))])
async def job_status(job_id: str, request: Request, emulator: EmulatorDep) -> JSONResponse:
    """A job's status; a succeeded job's image URLs are presigned afresh on every call."""
    job = emulator.jobs.get(job_id)
    if job is None:
        return api_error(404, *_UNKNOWN_JOB)
    job.status_calls += 1
    now = time.time()
    base = public_base(request, emulator)
    body = job.status_body(now, lambda key: emulator.mint_image_url(base, key, now))
    return JSONResponse(body, headers={"link": _links(base, job_id)[2]})


@router.put("/v3/cancel/{job_id:path}", dependencies=[Depends(guard("cancel"))])
async def cancel_job(job_id: str, emulator: EmulatorDep) -> JSONResponse:
    """Cancel a pending or running job; it shows `cancel_pending` briefly, then `cancelled`."""
    job = emulator.jobs.get(job_id)
    if job is None:
        return api_error(404, *_UNKNOWN_JOB)
    refusal = job.cancel(time.time())
    if refusal is not None:
        return api_error(*refusal)
    return JSONResponse({})
