"""Async jobs. A job's status is derived from the clock on every read, so nothing runs in the background:

pending (first 20% of latency) -> running -> outcome at createdAt + latency
pending | running --cancel--> cancel_pending (CANCEL_GRACE_S) -> cancelled
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["succeeded", "failed", "timeout", "cancelled"]

CLUSTER = "emu001"
PENDING_SHARE = 0.2
CANCEL_GRACE_S = 0.5
TERMINAL = frozenset({"succeeded", "failed", "timeout", "cancelled"})

_DEFAULT_MESSAGES = {
    "failed": "The job failed.",
    "timeout": "The job timed out.",
    "cancelled": "The job was cancelled.",
}
_DEFAULT_CODES = {"timeout": "timeout_error", "cancelled": "cancelled_error"}

# Builds the presigned URL for one output: (image key) -> url.
UrlMinter = Callable[[str], str]


def new_job_id() -> str:
    return f"urn:ff:jobs:{CLUSTER}:{uuid.uuid4()}"


@dataclass(slots=True)
class Job:
    job_id: str
    prompt: str
    seeds: list[int]
    requested_width: int
    requested_height: int
    # The size the outputs are drawn at and the result reports: the requested one, scaled to the image cap.
    width: int
    height: int
    content_class: str
    custom_model_id: str | None
    model_version: str
    request_id: str | None
    created_at: float
    latency_s: float
    outcome: Outcome
    error_code: str | None = None
    message: str | None = None
    cancel_at: float | None = None
    status_calls: int = 0
    image_keys: list[str] = field(default_factory=list)
    ignored_fields: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.image_keys:
            self.image_keys = [uuid.uuid4().hex for _ in self.seeds]
        if self.outcome != "succeeded":
            self.error_code = self.error_code or _DEFAULT_CODES.get(self.outcome, "runtime_error")
            self.message = self.message or _DEFAULT_MESSAGES[self.outcome]

    @property
    def finishes_at(self) -> float:
        """When the job reaches a terminal status, as far as is known now."""
        natural = self.created_at + self.latency_s
        if self.cancel_at is None:
            return natural
        return self.cancel_at + CANCEL_GRACE_S

    def status(self, now: float) -> str:
        if self.cancel_at is not None:
            return "cancel_pending" if now < self.cancel_at + CANCEL_GRACE_S else "cancelled"
        if now >= self.created_at + self.latency_s:
            return self.outcome
        if now < self.created_at + self.latency_s * PENDING_SHARE:
            return "pending"
        return "running"

    def cancel(self, now: float) -> tuple[int, str, str] | None:
        """Request cancellation; None when accepted, else the (status, error_code, message) refusal."""
        status = self.status(now)
        if status in ("pending", "running"):
            self.cancel_at = now
            return None
        if status in ("cancel_pending", "cancelled"):
            return 409, "job_already_canceled", "The job was already canceled."
        if status == "timeout":
            return 410, "job_timeout", "The job timed out."
        return 409, "job_completed", "The job was already completed."

    def status_body(self, now: float, mint: UrlMinter) -> dict[str, Any]:
        """The `GET /v3/status` body; a succeeded job gets freshly minted image URLs on every call."""
        status = self.status(now)
        body: dict[str, Any] = {"jobId": self.job_id, "status": status}
        if status == "succeeded":
            body["result"] = {
                "size": {"width": self.width, "height": self.height},
                "outputs": [
                    {"seed": seed, "image": {"url": mint(key)}}
                    for seed, key in zip(self.seeds, self.image_keys, strict=True)
                ],
                "contentClass": self.content_class,
            }
        elif status == "cancelled" and self.cancel_at is not None:
            body.update(error_code=_DEFAULT_CODES["cancelled"], message=_DEFAULT_MESSAGES["cancelled"])
        elif status in TERMINAL:
            body.update(error_code=self.error_code, message=self.message)
        return body

    def describe(self, now: float) -> dict[str, Any]:
        """The control API's view, including what Firefly never shows (outcome, timings)."""
        return {
            "jobId": self.job_id,
            "prompt": self.prompt,
            "numVariations": len(self.seeds),
            "seeds": self.seeds,
            "size": {"width": self.requested_width, "height": self.requested_height},
            "outputSize": {"width": self.width, "height": self.height},
            "customModelId": self.custom_model_id,
            "modelVersion": self.model_version,
            "ignoredFields": self.ignored_fields,
            "requestId": self.request_id,
            "createdAt": self.created_at,
            "finishesAt": self.finishes_at,
            "outcome": self.outcome,
            "status": self.status(now),
            "statusCalls": self.status_calls,
        }


def in_flight(jobs: list[Job], now: float) -> tuple[int, int]:
    """(jobs accepted and not terminal at `now`, the most there ever were at once)."""
    events: list[tuple[float, int]] = []
    current = 0
    for job in jobs:
        end = job.finishes_at
        events.append((job.created_at, 1))
        events.append((end, -1))
        if job.created_at <= now < end:
            current += 1
    # Intervals are half-open, so at equal times an end is counted before a start.
    events.sort()
    peak = running = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return current, peak
