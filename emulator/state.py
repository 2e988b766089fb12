"""Everything one emulator process knows, in memory: runtime config, tokens, models, jobs, limits, faults and
the request log. It is only changed on the event loop; image rendering reads jobs from worker threads, which
is safe because the fields it reads never change after a job is created."""

from __future__ import annotations

import random
import zlib
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from emulator.errors import ENDPOINTS, Endpoint
from emulator.faults import FaultBook, OutcomeRules
from emulator.images import EXTENSIONS, UrlSigner, capped_size
from emulator.jobs import Job, in_flight, new_job_id
from emulator.models import ModelStore
from emulator.ratelimit import RateLimiter
from emulator.recording import RequestLog
from emulator.settings import EmulatorSettings
from emulator.tokens import TokenStore
from emulator.validation import GenerateRequest, ModelFacts

RetryAfterFormat = Literal["seconds", "http-date"]


class RuntimeConfig(BaseModel):
    """The knobs tests may turn while the emulator runs; they start from the `EmulatorSettings`."""

    jobLatencyS: float
    failureRate: float
    failureCode: str
    rpm: int
    rpd: int
    limitStatusCalls: bool
    retryAfterFormat: RetryAfterFormat
    tokenTtlS: int
    urlTtlS: int

    @classmethod
    def from_settings(cls, settings: EmulatorSettings) -> RuntimeConfig:
        return cls(
            jobLatencyS=settings.job_latency_s,
            failureRate=settings.failure_rate,
            failureCode=settings.failure_code,
            rpm=settings.rpm,
            rpd=settings.rpd,
            limitStatusCalls=settings.limit_status_calls,
            retryAfterFormat=settings.retry_after_format,
            tokenTtlS=settings.token_ttl_s,
            urlTtlS=settings.url_ttl_s,
        )


class ConfigPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jobLatencyS: float | None = Field(None, ge=0)
    failureRate: float | None = Field(None, ge=0, le=1)
    failureCode: str | None = Field(None, min_length=1)
    rpm: int | None = Field(None, ge=0)
    rpd: int | None = Field(None, ge=0)
    limitStatusCalls: bool | None = None
    retryAfterFormat: RetryAfterFormat | None = None
    tokenTtlS: int | None = Field(None, ge=1)
    urlTtlS: int | None = Field(None, ge=1)


class Emulator:
    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self.signer = UrlSigner()
        self.tokens = TokenStore()
        self.models = ModelStore()
        self.limiter = RateLimiter()
        self.faults = FaultBook()
        self.rules = OutcomeRules()
        self.log = RequestLog()
        self.config = RuntimeConfig.from_settings(settings)
        self.jobs: dict[str, Job] = {}
        self.images: dict[str, tuple[Job, int]] = {}
        self.requests: Counter[str] = Counter()
        self.model_versions: Counter[str] = Counter()
        self.ignored_fields: Counter[str] = Counter()
        self.tokens_issued = 0
        self.responses_429 = 0

    def reset(self) -> None:
        """Back to a fresh process's state, except that issued tokens stay valid: a gateway that keeps
        running across test cases should not see a 401 for every reset (revoking is a separate call)."""
        self.models.reset()
        self.limiter.reset()
        self.faults.clear()
        self.rules.clear()
        self.log.reset()
        self.config = RuntimeConfig.from_settings(self.settings)
        self.jobs.clear()
        self.images.clear()
        self.requests.clear()
        self.model_versions.clear()
        self.ignored_fields.clear()
        self.tokens_issued = 0
        self.responses_429 = 0

    def patch_config(self, patch: ConfigPatch) -> RuntimeConfig:
        self.config = self.config.model_copy(update=patch.model_dump(exclude_none=True))
        return self.config

    def record(self, endpoint: Endpoint, status: int, entry: dict[str, Any]) -> None:
        """Count one answered upstream request and add its request-log `entry`."""
        self.requests[endpoint] += 1
        if status == 429:
            self.responses_429 += 1
        self.log.add(**entry)

    def model_facts(self, asset_id: str) -> ModelFacts | None:
        return self.models.facts(asset_id)

    def create_job(self, request: GenerateRequest, request_id: str | None, now: float) -> Job:
        rule = self.rules.match(request.prompt)
        latency = self.config.jobLatencyS
        error_code = message = None
        if rule is not None:
            outcome = rule.outcome
            error_code, message = rule.errorCode, rule.message
            latency = rule.latencyS if rule.latencyS is not None else latency
        elif random.random() < self.config.failureRate:
            outcome, error_code = "failed", self.config.failureCode
        else:
            outcome = "succeeded"
        seeds = request.seeds or random.sample(range(1, 2**31), request.num_variations)
        content_class = request.content_class or ("photo", "art")[zlib.crc32(request.prompt.encode()) % 2]
        width, height = capped_size(request.width, request.height, self.settings.image_max_side)
        job = Job(
            job_id=new_job_id(),
            prompt=request.prompt,
            seeds=seeds,
            requested_width=request.width,
            requested_height=request.height,
            width=width,
            height=height,
            content_class=content_class,
            custom_model_id=request.custom_model_id,
            model_version=request.model_version,
            request_id=request_id,
            created_at=now,
            latency_s=latency,
            outcome=outcome,
            error_code=error_code,
            message=message,
            ignored_fields=list(request.ignored_fields),
        )
        self.jobs[job.job_id] = job
        self.model_versions[job.model_version] += 1
        self.ignored_fields.update(job.ignored_fields)
        for index, key in enumerate(job.image_keys):
            self.images[key] = (job, index)
        return job

    def image_path(self, key: str) -> str:
        return f"/images/{key}.{EXTENSIONS[self.settings.image_format]}"

    def mint_image_url(self, base: str, key: str, now: float) -> str:
        return self.signer.mint(base, self.image_path(key), self.config.urlTtlS, now)

    def stats(self, now: float) -> dict[str, Any]:
        current, peak = in_flight(list(self.jobs.values()), now)
        return {
            "tokenRequests": self.requests["token"],
            "tokensIssued": self.tokens_issued,
            "requests": {endpoint: self.requests[endpoint] for endpoint in ENDPOINTS},
            "responses429": self.responses_429,
            "inFlight": current,
            "peakInFlight": peak,
            "jobs": len(self.jobs),
            "modelVersions": dict(self.model_versions),
            "ignoredFields": dict(self.ignored_fields),
        }
