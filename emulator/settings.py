"""The emulator's own configuration: environment variables with the `FFGATE_EMULATOR_` prefix.

Only `ffgate emulator` (and `ffgate dev`, which starts it) reads these; the gateway and the workers never do.
Every value is checked when the process starts, and a bad one names its variable (`ffgate emulator` prints
`FFGATE_EMULATOR_<FIELD>: <reason>` and exits 2).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "FFGATE_EMULATOR_"
# Firefly's documented bound for either side of an output (`Size`: 1..4096); no preset is larger.
MAX_IMAGE_SIDE = 4096


def env_name(field: str) -> str:
    """The environment variable that sets `field`."""
    return ENV_PREFIX + field.upper()


class EmulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    client_id: str = Field("ffgate-emulator-client", min_length=1, description="The one client IMS knows.")
    client_secret: SecretStr = SecretStr("ffgate-emulator-secret")
    public_url: str | None = Field(
        None, description="Base URL put in statusUrl/cancelUrl/image URLs; the request's own base when unset."
    )
    token_ttl_s: int = Field(86399, ge=1, description="`expires_in` of issued tokens, as Adobe's (24 h).")
    job_latency_s: float = Field(8.0, ge=0, description="How long a job takes from accepted to finished.")
    failure_rate: float = Field(0.0, ge=0.0, le=1.0, description="Share of jobs that fail at random.")
    failure_code: str = Field("runtime_error", min_length=1, description="`error_code` of those failures.")
    rpm: int = Field(4, ge=0, description="Per-minute limit (0: none), as Adobe's default.")
    rpd: int = Field(9000, ge=0, description="Per-day limit (0: none), as Adobe's default.")
    limit_status_calls: bool = Field(False, description="Status calls count against the limits too.")
    retry_after_format: Literal["seconds", "http-date"] = "seconds"
    image_format: Literal["jpeg", "png"] = "jpeg"
    image_max_side: int = Field(
        MAX_IMAGE_SIDE,
        ge=1,
        le=MAX_IMAGE_SIDE,
        description=(
            "Outputs are drawn at the requested size, scaled down to fit this side; the job's result reports "
            "the size drawn, so the two always agree."
        ),
    )
    url_ttl_s: int = Field(3600, ge=1, description="Lifetime of presigned image URLs (Adobe: one hour).")
    image_min_bytes: int = Field(
        0,
        ge=0,
        le=64 * 1024 * 1024,
        description=(
            "Pad each output to at least this many bytes (JPEG comment segments or a private PNG chunk, "
            "which decoders skip): realistically sized files without drawing large pictures. 0: as encoded."
        ),
    )
    image_max_bytes: int = Field(
        0, ge=0, le=64 * 1024 * 1024, description="...and at most this many (the size is picked per image)."
    )

    @model_validator(mode="after")
    def _byte_range(self) -> EmulatorSettings:
        if self.image_max_bytes and self.image_max_bytes < self.image_min_bytes:
            raise ValueError(
                "FFGATE_EMULATOR_IMAGE_MAX_BYTES must be at least FFGATE_EMULATOR_IMAGE_MIN_BYTES"
            )
        return self

    @field_validator("public_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `FFGATE_EMULATOR_PUBLIC_URL=` in a compose file means "not set".
        return None if value == "" else value

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be an absolute http(s) URL such as http://emulator:8090")
        return value.rstrip("/")
