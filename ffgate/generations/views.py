"""The public JSON of a generation: the same in API answers, SSE events and webhook payloads, so the
gateway and the worker render it from one definition (pydantic only, no HTTP framework)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ffgate.budget.eta import QueuePlace
from ffgate.generations.metadata import metadata_problem
from ffgate.generations.outputs import output_path, upstream_url
from ffgate.generations.records import Record
from ffgate.generations.states import Status


class QueueInfo(BaseModel):
    """Where a queued generation stands, computed when it is read."""

    position: int = Field(
        description="Generations that will be sent to Firefly before this one in the fair order (0: next)."
    )
    etaSeconds: int = Field(
        description="Seconds until it is expected to be sent, from the Adobe org's budget and the jobs ahead."
    )


class Upstream(BaseModel):
    jobId: str


class OutputImage(BaseModel):
    url: str = Field(description="The gateway's own URL of the output: stable for as long as the record.")
    width: int | None = Field(None, description="Pixel width (read from the stored bytes once stored).")
    height: int | None = None
    contentType: str | None = None
    size: int | None = Field(None, description="Bytes, once stored.")
    sha256: str | None = Field(None, description="SHA-256 of the bytes (hex), once stored.")
    stored: bool = Field(
        False, description="Copied into ffgate's store; until then `url` redirects upstream."
    )
    upstreamUrl: str | None = Field(None, description="Firefly's presigned URL (expires).")
    upstreamExpiresAt: str | None = None
    storeError: str | None = Field(None, description="Why the output could not be stored, if it was not.")


class Output(BaseModel):
    seed: int | None = None
    image: OutputImage

    @classmethod
    def from_stored(cls, output: dict[str, Any], url: str) -> Output:
        image = output.get("image") or {}
        if not isinstance(image, dict):
            raise ValueError(f"a stored output's image is {type(image).__name__}, not an object")
        return cls(
            seed=output.get("seed"),
            image=OutputImage.model_validate(
                image | {"url": url, "upstreamUrl": upstream_url(image) or None}
            ),
        )


class Reused(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    from_: str = Field(alias="from", description="The generation whose stored outputs answered this one.")


class GenerationError(BaseModel):
    code: str
    message: str
    retryable: bool


class Links(BaseModel):
    self: str
    cancel: str
    events: str


class Generation(BaseModel):
    id: str
    status: Status
    createdAt: str
    updatedAt: str
    completedAt: str | None
    request: dict[str, Any]
    metadata: dict[str, Any] | None
    queue: QueueInfo | None
    upstream: Upstream | None
    outputs: list[Output]
    error: GenerationError | None
    warnings: list[str]
    reused: Reused | None = None
    links: Links

    @classmethod
    def from_record(cls, record: Record, base_url: str = "", queue: QueuePlace | None = None) -> Generation:
        self_url = f"{base_url}/v1/generations/{record.id}"
        metadata, warnings = record.metadata, record.warnings
        problem = None if metadata is None else metadata_problem(metadata)
        if problem:  # stored before the limits existed: the rest of the record is still shown
            metadata, warnings = None, [*warnings, f"The stored metadata cannot be shown: {problem}."]
        return cls(
            id=record.id,
            status=record.status,
            createdAt=record.created_at,
            updatedAt=record.updated_at,
            completedAt=record.completed_at,
            request=record.request,
            metadata=metadata,
            queue=QueueInfo(position=queue.position, etaSeconds=round(queue.eta_s)) if queue else None,
            upstream=Upstream(jobId=record.upstream_job_id) if record.upstream_job_id else None,
            outputs=[
                Output.from_stored(o, base_url + output_path(record.id, i))
                for i, o in enumerate(record.outputs)
            ],
            error=GenerationError.model_validate(record.error) if record.error else None,
            warnings=warnings,
            reused=Reused.model_validate({"from": record.reused_from}) if record.reused_from else None,
            links=Links(self=self_url, cancel=f"{self_url}/cancel", events=f"{self_url}/events"),
        )


class DeliveryAttempt(BaseModel):
    webhookId: str
    event: str
    attempt: int
    statusCode: int | None
    durationMs: int
    error: str | None
    at: str
    nextAttemptAt: str | None
