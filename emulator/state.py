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
from emulator.images import EXTENSIONS, UrlSigner
from emulator.jobs import Job, in_flight, new_job_id
from emulator.models import ModelStore
from emulator.ratelimit import RateLimiter
from emulator.recording import RequestLog
from emulator.tokens import TokenStore
from emulator.validation import GenerateRequest
from ffgate.config import Settings

RetryAfterFormat = Literal["seconds", "http-date"]


class RuntimeConfig(BaseModel):
    """The knobs tests may turn while the emulator runs; they start from the `emulator_*` settings."""

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
    def from_settings(cls, settings: Settings) -> RuntimeConfig:
        return cls(
            jobLatencyS=settings.emulator_job_latency_s,
            failureRate=settings.emulator_failure_rate,
            failureCode=settings.emulator_failure_code,
            rpm=settings.emulator_rpm,
            rpd=settings.emulator_rpd,
            limitStatusCalls=settings.emulator_limit_status_calls,
            retryAfterFormat=settings.emulator_retry_after_format,
            tokenTtlS=settings.emulator_token_ttl_s,
            urlTtlS=settings.emulator_url_ttl_s,
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
    def __init__(self, settings: Settings) -> None:
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
        self.tokens_issued = 0
        self.responses_429 = 0

    def patch_config(self, patch: ConfigPatch) -> RuntimeConfig:
        self.config = self.config.model_copy(update=patch.model_dump(exclude_none=True))
        return self.config

    def record(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        status: int,
        request_id: str | None,
        model_version: str | None,
        job_id: str | None,
        at: float,
    ) -> None:
        self.requests[endpoint] += 1
        if status == 429:
            self.responses_429 += 1
        self.log.add(
            at=at,
            method=method,
            endpoint=endpoint,
            path=path,
            status=status,
            requestId=request_id,
            modelVersion=model_version,
            jobId=job_id,
        )

    def custom_model_problem(self, asset_id: str) -> str | None:
        """Why `asset_id` cannot be generated with, or None when it can."""
        model = self.models.get(asset_id)
        if model is None:
            return f"custom model {asset_id} was not found"
        if model.training_status != "ready":
            return f"custom model {asset_id} is not trained (status: {model.training_status})"
        return None

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
        job = Job(
            job_id=new_job_id(),
            prompt=request.prompt,
            seeds=seeds,
            width=request.width,
            height=request.height,
            content_class=content_class,
            custom_model_id=request.custom_model_id,
            model_version=request.model_version,
            request_id=request_id,
            created_at=now,
            latency_s=latency,
            outcome=outcome,
            error_code=error_code,
            message=message,
        )
        self.jobs[job.job_id] = job
        for index, key in enumerate(job.image_keys):
            self.images[key] = (job, index)
        return job

    def image_path(self, key: str) -> str:
        return f"/images/{key}.{EXTENSIONS[self.settings.emulator_image_format]}"

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
        }
