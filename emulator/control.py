"""The control API under `/_emulator`: lets tests read what happened and script what happens next.
No authentication: the emulator only ever listens where tests and developers run."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from emulator.deps import EmulatorDep
from emulator.faults import FaultIn, OutcomeRuleIn
from emulator.models import ModelIn
from emulator.recording import LOG_SIZE
from emulator.state import ConfigPatch

router = APIRouter(prefix="/_emulator", tags=["Emulator control"])


@router.get("/stats")
async def stats(emulator: EmulatorDep) -> dict[str, Any]:
    """Request and token counters, 429s answered, and jobs in flight now and at the peak."""
    return emulator.stats(time.time())


@router.get("/jobs")
async def list_jobs(emulator: EmulatorDep) -> list[dict[str, Any]]:
    """Every job accepted since the last reset, oldest first."""
    now = time.time()
    return [job.describe(now) for job in emulator.jobs.values()]


@router.get("/jobs/{job_id:path}")
async def get_job(job_id: str, emulator: EmulatorDep) -> dict[str, Any]:
    job = emulator.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, "unknown job id")
    return job.describe(time.time())


@router.get("/requests")
async def list_requests(
    emulator: EmulatorDep, since: int = 0, limit: int = Query(LOG_SIZE, ge=1, le=LOG_SIZE)
) -> dict[str, Any]:
    """Recorded IMS and Firefly requests numbered above `since`; pass the returned `next` to continue."""
    return emulator.log.since(since, limit)


@router.get("/config")
async def get_config(emulator: EmulatorDep) -> dict[str, Any]:
    return emulator.config.model_dump()


@router.patch("/config")
async def patch_config(patch: ConfigPatch, emulator: EmulatorDep) -> dict[str, Any]:
    """Change any runtime knob; answers the whole config. New values apply to later requests and jobs."""
    return emulator.patch_config(patch).model_dump()


@router.get("/faults")
async def list_faults(emulator: EmulatorDep) -> list[dict[str, object]]:
    return emulator.faults.listing(time.time())


@router.post("/faults")
async def add_fault(fault: FaultIn, emulator: EmulatorDep) -> list[dict[str, object]]:
    """Make the next matching requests (`count` of them, or for `durationS`) answer `status` after `delayS`.
    Faults are consulted in the order added; with neither limit set, one lasts until cleared."""
    now = time.time()
    emulator.faults.add(fault, now)
    return emulator.faults.listing(now)


@router.delete("/faults")
async def clear_faults(emulator: EmulatorDep) -> list[dict[str, object]]:
    emulator.faults.clear()
    return []


@router.get("/outcomes")
async def list_outcomes(emulator: EmulatorDep) -> list[dict[str, object]]:
    return emulator.rules.listing()


@router.post("/outcomes")
async def add_outcome(rule: OutcomeRuleIn, emulator: EmulatorDep) -> list[dict[str, object]]:
    """Jobs created from now on whose prompt contains `promptContains` end as `outcome` (first rule wins)."""
    emulator.rules.add(rule)
    return emulator.rules.listing()


@router.delete("/outcomes")
async def clear_outcomes(emulator: EmulatorDep) -> list[dict[str, object]]:
    emulator.rules.clear()
    return []


@router.post("/tokens/revoke")
async def revoke_tokens(emulator: EmulatorDep) -> dict[str, Any]:
    """Every token issued so far stops working; new ones can be requested as usual."""
    emulator.tokens.revoke_all()
    return {"revoked": True}


@router.get("/models")
async def list_models(emulator: EmulatorDep) -> list[dict[str, Any]]:
    """Every model with its internal `trainingStatus` and `imageModel`, unfiltered and unpaged."""
    return emulator.models.everything()


@router.post("/models")
async def put_model(model: ModelIn, emulator: EmulatorDep) -> dict[str, Any]:
    """Add or replace a model (by `assetId`); fields left out get plausible values. `imageModel` (`image3`,
    `image4`, `image5`) sets `baseModel` to the emulator's value for that image model."""
    return emulator.models.put(model)


@router.delete("/models/{asset_id:path}", status_code=204)
async def delete_model(asset_id: str, emulator: EmulatorDep) -> None:
    if not emulator.models.delete(asset_id):
        raise HTTPException(404, "unknown assetId")


@router.post("/reset")
async def reset(emulator: EmulatorDep) -> dict[str, Any]:
    """Back to a fresh process: settings' config, seed models, no jobs, faults, rules, log or counters.
    Issued tokens stay valid (see `/tokens/revoke`)."""
    emulator.reset()
    return emulator.config.model_dump()
