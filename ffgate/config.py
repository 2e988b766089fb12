"""The one place configuration is read: environment variables with the `FFGATE_` prefix.

Every process (gateway, worker, `ffgate dev`) builds a `Settings` in its entry point and hands it on;
nothing reads the environment anywhere else. The emulator has settings of its own (`emulator/settings.py`).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    DirectoryPath,
    Field,
    HttpUrl,
    RedisDsn,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from ffgate.storage.location import FileLocation, S3Location, parse_storage_url

DEFAULT_IMS_URL = "https://ims-na1.adobelogin.com"
DEFAULT_FIREFLY_URL = "https://firefly-api.adobe.io"
# Secrets mounted as files (a Kubernetes Secret volume, Docker secrets): read from here when it exists.
DEFAULT_SECRETS_DIR = "/run/secrets/ffgate"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FFGATE_", extra="ignore", frozen=True)

    # --- shared -------------------------------------------------------------------------------------------
    redis_url: RedisDsn = Field(
        RedisDsn("redis://127.0.0.1:6379/0"),
        description=(
            "Redis for jobs, queues, caches and the shared token. With FFGATE_REDIS_SENTINELS set, only its "
            "database, username and password are used (and `rediss://` for TLS): the host is the sentinels'."
        ),
    )
    redis_sentinels: Annotated[list[tuple[str, int]], NoDecode] = Field(
        [],
        description=(
            "`host:port,host:port`: Redis Sentinels to ask for the primary named "
            "FFGATE_REDIS_SENTINEL_MASTER (asked again after every failover). Empty: FFGATE_REDIS_URL is "
            "the server itself."
        ),
    )
    redis_sentinel_master: str | None = Field(
        None, validate_default=True, description="The primary's name in the sentinels' configuration."
    )
    redis_timeout_s: float = Field(
        1.0,
        gt=0,
        description=(
            "Connecting to Redis and each answer may take this long (subscriptions wait for messages "
            "without a limit); a command that timed out waiting for its answer is not sent again."
        ),
    )
    redis_retry_for_s: float = Field(
        15.0,
        ge=0,
        description=(
            "A command that could not reach Redis (refused, reset, no primary known yet) is tried again "
            "for this long before the error reaches ffgate: long enough to ride out a Sentinel failover."
        ),
    )
    gateway_redis_retry_for_s: float = Field(
        1.0,
        ge=0,
        description=(
            "The gateway's FFGATE_REDIS_RETRY_FOR_S: a client's request is answered 503 with Retry-After "
            "after this long without Redis rather than held for a whole failover (workers ride it out)."
        ),
    )
    redis_prefix: str = Field("ffgate:", description="Prefix of every key ffgate writes (RQ keeps its own).")
    queue_name: str = Field(
        "ffgate", description="Name of the RQ queue of cancels (submits and polls run on the Redis schedule)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL (any case)."
    )
    log_format: Literal["json", "text"] = Field(
        "json",
        description=(
            "`json`: one JSON object a line (time, level, process, logger, message, request_id and, where "
            "known, generation_id and client_id); `text`: the same as a readable line (`ffgate dev`)."
        ),
    )
    secrets_dir: DirectoryPath | None = Field(
        None,
        description=(
            "A directory of files named after settings (e.g. `FFGATE_ADMIN_KEY`), each holding its value; "
            f"default {DEFAULT_SECRETS_DIR}, read only when it exists. The environment wins over a file."
        ),
    )

    # --- upstream: Adobe IMS + Firefly ---------------------------------------------------------------------
    adobe_client_id: str | None = None
    adobe_client_secret: SecretStr | None = None
    adobe_scopes: str = "openid,AdobeID,firefly_api,ff_apis"
    ims_url: HttpUrl = Field(HttpUrl(DEFAULT_IMS_URL), description="Adobe IMS; /ims/token/v3 is appended.")
    firefly_url: HttpUrl = Field(HttpUrl(DEFAULT_FIREFLY_URL), description="Firefly Services' base URL.")
    model_version: Literal["image4_custom", "image3_custom"] = Field(
        "image4_custom",
        description=(
            "x-model-version of a generation whose request and model record name none "
            "(image4_custom | image3_custom)."
        ),
    )
    upstream_timeout_s: float = Field(
        15.0, gt=0, description="Each Firefly/IMS call must be answered within this (connect: 5 s)."
    )
    token_refresh_margin_s: int = Field(300, description="Refresh the IMS token this long before it expires.")
    upstream_rpm: int = Field(4, ge=0, description="The Adobe org's requests per minute (0: no limit).")
    upstream_rpd: int = Field(9000, ge=0, description="The Adobe org's requests per day (0: no limit).")
    upstream_burst: int = Field(
        1, ge=1, description="Submits sent back to back; 1 spaces them evenly, 60/RPM seconds apart."
    )
    upstream_poll_rpm: int = Field(
        0, ge=0, description="Status polls and model listings per minute, a budget of their own (0: none)."
    )
    upstream_polls_count: bool = Field(
        False, description="Polls and listings draw from the RPM/RPD budget too (Adobe does not say)."
    )
    client_weights: Annotated[dict[str, int], NoDecode] = Field(
        {}, description="`client=weight,...`: a client's share of the budget while jobs wait (default 1)."
    )
    max_queue_s: int = Field(
        86400, ge=0, description="A job not sent to Firefly this long after it was queued fails (0: never)."
    )
    breaker_failures: int = Field(
        5, ge=1, description="Failed submits (5xx, unreachable, timeout) in a row that open the breaker."
    )
    breaker_window_s: float = Field(60.0, gt=0, description="...counted only within this many seconds.")
    breaker_cooldown_s: float = Field(
        15.0, gt=0, description="An open breaker sends nothing this long, then lets one probe through."
    )

    # --- gateway --------------------------------------------------------------------------------
    admin_key: SecretStr | None = Field(None, description="Bootstrap API key with every scope.")
    key_pepper: SecretStr | None = Field(
        None,
        description=(
            "Server secret API keys are hashed with (HMAC-SHA256) before they are stored or looked up. "
            "Unset: derived from FFGATE_ADMIN_KEY, so changing the admin key then invalidates every client "
            "key; set it explicitly in production. Every gateway and `ffgate clients` need the same value."
        ),
    )
    gateway_drain_s: float = Field(
        5.0,
        ge=0,
        description=(
            "After SIGTERM the gateway answers /readyz 503 this long (serving as usual otherwise), then "
            "answers every long-poll with the current state and ends every event stream, then stops."
        ),
    )
    gateway_grace_s: float = Field(
        10.0, gt=0, description="...giving requests still running this long to finish once it stops."
    )
    models_cache_ttl_s: int = Field(300, ge=0)
    max_body_bytes: int = Field(64 * 1024, ge=1)
    max_wait_s: int = Field(60, ge=0, le=3600)
    public_base_url: str | None = Field(None, description="Absolute base for links; relative when unset.")
    access_token_ttl_s: int = Field(
        3600,
        ge=60,
        le=86400,
        description="Life of a token from the gateway's Firefly-compatible `POST /ims/token/v2|v3`.",
    )
    openai_wait_s: int = Field(
        120,
        ge=1,
        le=600,
        description="How long `POST /v1/images/generations` waits for the images before it answers 504.",
    )
    webhook_allowed_cidrs: Annotated[list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode] = []
    admin_webhook_secret: SecretStr | None = Field(
        None,
        description="whsec_ secret for the admin key's webhooks; derived from FFGATE_ADMIN_KEY if unset.",
    )
    webhook_timeout_s: float = Field(10.0, gt=0, description="A webhook receiver must answer within this.")
    delivery_concurrency: int = Field(
        16, ge=1, description="Webhook deliveries in flight at once per worker."
    )
    webhook_retry_delays_s: list[float] = Field(
        [5, 30, 120, 600, 1800, 3600], description="Waits after the 1st, 2nd, ... failed attempt (+-20%)."
    )
    webhook_retry_every_s: float = Field(
        7200, description="The wait after those, until the retry window ends."
    )
    webhook_retry_for_s: float = Field(86400, description="No new attempt once this long after the first.")

    # --- output store (gateway and worker) -------------------------------------------------------
    storage_url: str = Field(
        "file://./ffgate-data/outputs",
        validate_default=True,  # the default too is made absolute, against the directory ffgate starts in
        description=(
            "Where outputs are kept: `file:///path` (a directory; relative as `file://./dir`) or "
            "`s3://bucket/prefix` (endpoint, region and keys from the standard AWS variables)."
        ),
    )
    storage_create_bucket: bool = Field(False, description="Create the s3:// bucket if it does not exist.")
    link_secret: SecretStr | None = Field(
        None,
        description=(
            "HMAC key of signed output links (16+ characters); unset: derived from FFGATE_ADMIN_KEY, so "
            "changing the admin key then invalidates every link. The same on every gateway."
        ),
    )
    link_default_expires_s: int = Field(3600, ge=1, description="A signed link's lifetime when not asked.")
    link_max_expires_s: int = Field(7 * 86400, ge=1, description="The longest `expiresIn` a link may ask.")
    store_redirect_s: int = Field(
        300, ge=1, le=604800, description="Lifetime of the presigned store URL an S3 output redirects to."
    )
    copy_concurrency: int = Field(8, ge=1, description="Output copies (download + store) at once per worker.")
    copy_timeout_s: float = Field(60.0, gt=0, description="One output's download and upload, at most.")
    copy_lease_s: float = Field(
        120.0, gt=0, description="A claimed copy comes back to the schedule (another worker) after this long."
    )
    copy_max_bytes: int = Field(64 * 1024 * 1024, ge=1, description="Largest output a worker will copy.")
    reuse_across_clients: bool = Field(
        False, description="A seeded request may be answered from another client's identical generation."
    )
    sweep_interval_s: float = Field(
        3600.0, gt=0, description="How often one worker removes stored outputs no generation refers to."
    )
    aws_region: str | None = Field(
        None,
        validation_alias="AWS_REGION",  # the AWS name, unprefixed; boto3 itself reads only AWS_DEFAULT_REGION
        description="The S3 store's region; unset: the AWS SDK's own default (AWS_DEFAULT_REGION, profile).",
    )

    # --- worker ---------------------------------------------------------------------------------
    result_ttl_s: int = Field(7 * 24 * 3600, description="How long a finished job record is kept.")
    submit_max_attempts: int = Field(
        5, ge=1, description="Attempts for a submit that failed before Firefly took it."
    )
    submit_retry_base_s: float = Field(2.0, ge=0)
    poll_first_s: float = Field(2.0, description="First status poll after Firefly accepted a job.")
    poll_interval_s: float = Field(
        2.5, description="Status poll interval while nothing is known of durations."
    )
    poll_tail_s: float = Field(1.0, description="Poll interval once a job runs past its expected duration.")
    poll_max_interval_s: float = 15.0
    # Lanes: submits, status calls and deliveries each have their own slots, connections and timeouts, so
    # a slow status host or webhook receiver never delays a submit. (Output copies, issue 10, get theirs.)
    submit_concurrency: int = Field(8, ge=1, description="Submits in flight at once per worker process.")
    poll_concurrency: int = Field(32, ge=1, description="Status calls in flight at once per worker process.")
    status_timeout_s: float = Field(
        15.0,
        gt=0,
        description="Status, cancel and model-listing calls must be answered within this (connect: 5 s).",
    )
    poll_lease_s: float = Field(
        30.0, gt=0, description="A claimed poll returns to the schedule after this long."
    )
    poll_max_errors: int = Field(
        8, ge=1, description="Consecutive failed status calls before a job is given up."
    )
    job_max_age_s: int = Field(1800, description="A job not finished upstream after this long is failed.")
    maintenance_interval_s: int = Field(15, ge=1, description="How often a worker recovers abandoned work.")
    redis_outage_hold_s: float = Field(
        300.0,
        gt=0,
        description=(
            "While Redis is away a worker holds what Firefly told it (a job id after a 202) this long, "
            "writing it as soon as Redis answers, in the one step that also ends the job's submit lease."
        ),
    )
    worker_drain_s: float | None = Field(
        None,
        gt=0,
        description=(
            "On SIGTERM a worker finishes its calls in flight for this long; it must outlast "
            "FFGATE_UPSTREAM_TIMEOUT_S, so no answer Firefly gives is lost. Unset: that timeout + 5 s."
        ),
    )
    worker_metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description=(
            "The worker's own HTTP port for /metrics, /healthz (its loop turns) and /readyz (its Redis "
            "answers), on FFGATE_WORKER_METRICS_HOST; 0: none. `ffgate worker --metrics-port` overrides it."
        ),
    )
    worker_metrics_host: str = Field("0.0.0.0", description="Address the worker's metrics port listens on.")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _drain_outlasts_calls(self) -> Settings:
        if self.worker_drain_s is not None and self.worker_drain_s <= self.upstream_timeout_s:
            raise ValueError(
                f"FFGATE_WORKER_DRAIN_S ({self.worker_drain_s:g}) must be longer than "
                f"FFGATE_UPSTREAM_TIMEOUT_S ({self.upstream_timeout_s:g})"
            )
        return self

    @field_validator("admin_key", "key_pepper", "link_secret", "admin_webhook_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `FFGATE_KEY_PEPPER=` in a compose file must not become an empty (public) HMAC key.
        return None if value == "" else value

    @field_validator("key_pepper", "link_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("redis_sentinels", mode="before")
    @classmethod
    def _split_sentinels(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        addresses = []
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            host, sep, port = part.rpartition(":")
            host = host.removeprefix("[").removesuffix("]")  # [::1]:26379
            if not sep or not host or not port.isdigit():
                raise ValueError(f"give each sentinel as host:port (e.g. 10.0.0.5:26379), not {part!r}")
            addresses.append((host, int(port)))
        return addresses

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinel_ports(cls, value: list[tuple[str, int]]) -> list[tuple[str, int]]:
        for host, port in value:
            if not 0 < port < 65536:
                raise ValueError(f"{host}:{port}: a port is 1-65535")
        return value

    @field_validator("redis_sentinel_master")
    @classmethod
    def _master_with_sentinels(cls, value: str | None, info: ValidationInfo) -> str | None:
        sentinels = info.data.get("redis_sentinels")
        if sentinels is None:  # FFGATE_REDIS_SENTINELS itself is invalid: that error says it all
            return value
        value = value.strip() if value else None
        if sentinels and not value:
            raise ValueError("required with FFGATE_REDIS_SENTINELS: the name the sentinels monitor")
        if value and not sentinels:
            raise ValueError("set FFGATE_REDIS_SENTINELS too (host:port,...), or unset this")
        return value

    @field_validator("storage_url")
    @classmethod
    def _storage_location(cls, value: str) -> str:
        # Parsed here so a wrong URL stops the process at start, named FFGATE_STORAGE_URL; kept canonical
        # (a relative directory made absolute now), so a later change of directory cannot move the store.
        return parse_storage_url(value).url

    @field_validator("webhook_allowed_cidrs", mode="before")
    @classmethod
    def _split_cidrs(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("client_weights", mode="before")
    @classmethod
    def _split_weights(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = [part.strip().rpartition("=") for part in value.split(",") if part.strip()]
            return {name.strip(): weight.strip() for name, _, weight in pairs}
        return value

    @field_validator("client_weights")
    @classmethod
    def _positive_weights(cls, value: dict[str, int]) -> dict[str, int]:
        if any(not name or weight < 1 for name, weight in value.items()):
            raise ValueError("give each client as `name=weight` with a weight of at least 1")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then secret files (FFGATE_SECRETS_DIR, else the default
        directory when it exists). A FFGATE_SECRETS_DIR that is no directory fails as that setting."""
        sources = (init_settings, env_settings, dotenv_settings)
        secrets_dir = Path(os.environ.get("FFGATE_SECRETS_DIR") or DEFAULT_SECRETS_DIR)
        if secrets_dir.is_dir():
            return (*sources, SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir))
        return sources

    @property
    def redis_sentinel(self) -> tuple[list[tuple[str, int]], str] | None:
        """(sentinel addresses, primary name) when Redis is found through Sentinel."""
        if self.redis_sentinels and self.redis_sentinel_master:
            return self.redis_sentinels, self.redis_sentinel_master
        return None

    @property
    def ims_token_url(self) -> str:
        return str(self.ims_url).rstrip("/") + "/ims/token/v3"

    @property
    def firefly_base(self) -> str:
        return str(self.firefly_url).rstrip("/")

    @property
    def drain_s(self) -> float:
        """How long a stopping worker lets its calls in flight finish (FFGATE_WORKER_DRAIN_S)."""
        return self.worker_drain_s if self.worker_drain_s is not None else self.upstream_timeout_s + 5

    @property
    def storage_location(self) -> FileLocation | S3Location:
        return parse_storage_url(self.storage_url)

    @property
    def has_credentials(self) -> bool:
        return bool(self.adobe_client_id and self.adobe_client_secret)
