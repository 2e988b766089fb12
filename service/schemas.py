"""Request and response bodies of the HTTP contract (shared/design/API.md); camelCase like Firefly's."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from ffgate.clients.store import ApiClient, Issued
from ffgate.generations.metadata import metadata_problem
from ffgate.generations.views import DeliveryAttempt, Generation
from ffgate.upstream.model_records import Unavailable
from ffgate.upstream.versions import ModelVersion


def _integral(value: Any) -> Any:
    # JSON has one number type: 2.0 is the integer 2, as JSON Schema says. "2" and true are not numbers.
    return int(value) if isinstance(value, float) and value.is_integer() else value


Integral = BeforeValidator(_integral)
Integer = Annotated[int, Integral]


class _Strict(BaseModel):
    """Every request body: unknown fields refused, and no coercion (`"2"` and `true` are not integers)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Size(_Strict):
    """One of the presets of the generation's model version (ffgate.upstream.versions), checked once the
    version is known."""

    width: Annotated[int, Field(ge=1, le=4096), Integral]
    height: Annotated[int, Field(ge=1, le=4096), Integral]


class ImageSource(_Strict):
    url: Annotated[str, Field(min_length=1, max_length=2083)] | None = None
    uploadId: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ImageSource:
        if (self.url is None) == (self.uploadId is None):
            raise ValueError("give exactly one of url or uploadId")
        return self


class ImageReference(_Strict):
    source: ImageSource


class Style(_Strict):
    presets: list[str] | None = None
    strength: Annotated[int, Field(ge=1, le=100), Integral] | None = None
    imageReference: ImageReference | None = None

    @field_validator("presets")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("presets must be unique")
        return value


WebhookEvent = Literal[
    "generation.queued",
    "generation.submitted",
    "generation.running",
    "generation.succeeded",
    "generation.failed",
    "generation.canceled",
]


class WebhookSpec(_Strict):
    url: Annotated[str, Field(min_length=1, max_length=2048)]
    events: Annotated[list[WebhookEvent], Field(min_length=1)] = [
        "generation.succeeded",
        "generation.failed",
        "generation.canceled",
    ]

    @field_validator("events")
    @classmethod
    def _unique_events(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class GenerationRequest(_Strict):
    """The body of `POST /v1/generations`: Firefly's generate-async fields plus the gateway's own."""

    prompt: Annotated[str, Field(min_length=1, max_length=1024)]
    customModelId: Annotated[str, Field(min_length=1, max_length=512)]
    numVariations: Annotated[int, Field(ge=1, le=4), Integral] | None = None
    seeds: Annotated[list[Integer], Field(min_length=1, max_length=4)] | None = None
    size: Size | None = None
    negativePrompt: Annotated[str, Field(max_length=1024)] | None = None
    contentClass: Literal["photo", "art"] | None = None
    visualIntensity: Annotated[int, Field(ge=2, le=10), Integral] | None = None
    style: Style | None = None
    promptBiasingLocaleCode: Annotated[str, Field(pattern=r"^[a-z]{2}-[A-Z]{2}$")] | None = None
    upsamplerType: Literal["default", "low_creativity"] | None = Field(
        None, description="image4_custom only: `default` upscales to 2k, `low_creativity` suits people."
    )
    modelVersion: ModelVersion | None = Field(
        None,
        description="x-model-version to use; default: the model's record, else FFGATE_MODEL_VERSION.",
    )
    metadata: dict[str, Any] | None = None
    webhook: WebhookSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> GenerationRequest:
        if self.seeds is not None:
            if len(set(self.seeds)) != len(self.seeds):
                raise ValueError("seeds must be unique")
            if self.numVariations is not None and len(self.seeds) != self.numVariations:
                raise ValueError(f"{len(self.seeds)} seeds given for numVariations={self.numVariations}")
        return self

    @field_validator("metadata")
    @classmethod
    def _metadata_limits(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        problem = None if value is None else metadata_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    def as_given(self) -> dict[str, Any]:
        """The request with only the fields the client set (with the version it resolved to, what an
        Idempotency-Key fingerprints)."""
        return self.model_dump(mode="json", exclude_unset=True)

    def firefly_body(self) -> dict[str, Any]:
        """The generate-async fields, as given (the version goes upstream as a header)."""
        return self.model_dump(exclude_none=True, exclude={"metadata", "webhook", "modelVersion"})


class FireflyGenerateRequest(GenerationRequest):
    """The body of the Firefly-compatible `POST /v3/images/generate-async`: Firefly's fields, the gateway's
    own (`metadata`, `webhook`) and `noCache`, an extension Firefly does not have (never sent to it)."""

    noCache: bool = Field(
        False,
        description=(
            "ffgate's extension, as `Cache-Control: no-cache`: generate afresh even if an identical seeded "
            "generation is stored. Not sent to Firefly."
        ),
    )

    def as_given(self) -> dict[str, Any]:
        # Like the header, the flag is not part of what an Idempotency-Key fingerprints.
        return self.model_dump(mode="json", exclude_unset=True, exclude={"noCache"})

    def firefly_body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"metadata", "webhook", "modelVersion", "noCache"})


class DeliveryList(BaseModel):
    items: list[DeliveryAttempt]


class GenerationList(BaseModel):
    items: list[Generation]
    nextCursor: str | None


Scope = Literal["models:read", "generate", "admin"]
ClientName = Annotated[str, Field(min_length=1, max_length=100)]
Scopes = Annotated[
    list[Scope], Field(min_length=1, max_length=3), AfterValidator(lambda v: sorted(set(v), key=v.index))
]
ImageQuota = Annotated[int, Field(ge=0, le=10_000_000), Integral]


class RateLimit(_Strict):
    requestsPerMinute: Annotated[int, Field(ge=1, le=1_000_000), Integral]


class ClientCreate(_Strict):
    """An API client: an internal service with its own key. Limits apply to every gateway together."""

    name: ClientName
    scopes: Scopes = ["models:read", "generate"]
    rateLimit: RateLimit = RateLimit(requestsPerMinute=60)
    dailyImageQuota: ImageQuota | None = Field(None, description="Images per UTC day; null: no quota.")


class ClientUpdate(_Strict):
    """The fields to change; absent ones stay. `dailyImageQuota: null` removes the quota."""

    # Absent, not null: only the quota can be removed (SkipJsonSchema keeps null out of the schema).
    name: ClientName | SkipJsonSchema[None] = None
    scopes: Scopes | SkipJsonSchema[None] = None
    rateLimit: RateLimit | SkipJsonSchema[None] = None
    dailyImageQuota: ImageQuota | None = None

    @model_validator(mode="after")
    def _no_null_but_quota(self) -> ClientUpdate:
        for name in ("name", "scopes", "rateLimit"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        """What to change, named as `ClientStore.update` takes it."""
        changes: dict[str, Any] = {}
        if self.name is not None:
            changes["name"] = self.name
        if self.scopes is not None:
            changes["scopes"] = self.scopes
        if self.rateLimit is not None:
            changes["requests_per_minute"] = self.rateLimit.requestsPerMinute
        if "dailyImageQuota" in self.model_fields_set:
            changes["daily_image_quota"] = self.dailyImageQuota
        return changes


class Client(BaseModel):
    id: str
    name: str
    scopes: list[str]
    rateLimit: RateLimit
    dailyImageQuota: int | None
    createdAt: str
    updatedAt: str
    revokedAt: str | None

    @classmethod
    def of(cls, client: ApiClient) -> Client:
        return cls(
            id=client.id,
            name=client.name,
            scopes=list(client.scopes),
            rateLimit=RateLimit(requestsPerMinute=client.requests_per_minute),
            dailyImageQuota=client.daily_image_quota,
            createdAt=client.created_at,
            updatedAt=client.updated_at,
            revokedAt=client.revoked_at,
        )


class ClientKey(Client):
    """A client with its new API key: shown this once."""

    apiKey: str

    @classmethod
    def issued(cls, issued: Issued) -> ClientKey:
        return cls(**Client.of(issued.client).model_dump(), apiKey=issued.api_key.get_secret_value())


class ClientCreated(ClientKey):
    """A new client with its API key and webhook secret: shown this once, stored only as a hash (the key)."""

    webhookSecret: str

    @classmethod
    def issued(cls, issued: Issued) -> ClientCreated:
        assert issued.webhook_secret is not None
        return cls(
            **ClientKey.issued(issued).model_dump(), webhookSecret=issued.webhook_secret.get_secret_value()
        )


class ClientList(BaseModel):
    items: list[Client]


class ModelList(BaseModel):
    items: list[dict[str, Any]]
    total: int
    cachedAt: str


class ModelRecordBody(_Strict):
    """The operator's record of a custom model (ffgate.upstream.model_records)."""

    modelVersion: ModelVersion | None = Field(
        None, description="x-model-version of its generations that name none; null: FFGATE_MODEL_VERSION."
    )
    unavailable: Unavailable | None = Field(
        None, description="`image5` or `retired`: the API cannot serve it, and its generations get a 422."
    )


class ModelRecordOut(ModelRecordBody):
    assetId: str
    updatedAt: str


class ModelRecordList(BaseModel):
    items: list[ModelRecordOut]


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    detail: str | None = None


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the problems only this route can give; those every route of its kind can give
    (401, 403, 429, 503, 400, 413, 415, 422) and their bodies are added by service.openapi_doc."""
    return {code: {"description": "problem"} for code in codes}


def with_headers(*names: str) -> dict[str, Any]:
    """OpenAPI `headers` of a success answer, from those service.openapi_doc describes."""
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of the gateway is answered."""

    type: str
    title: str
    status: int
    detail: str
    requestId: str
    errors: list[dict[str, Any]] | None = None


class LinkRequest(_Strict):
    """How long a signed output link works; absent: the configured default."""

    expiresIn: int | None = Field(
        None, description="Seconds the link works (default and maximum configured)."
    )


class SignedLink(BaseModel):
    url: str
    expiresAt: str
