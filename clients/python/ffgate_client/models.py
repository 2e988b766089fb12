"""What the gateway answers, as typed objects (the HTTP contract's camelCase names as snake_case attributes).

Every model keeps fields it does not know (`extra="allow"`), so a newer gateway's additions survive a
round trip through `model_dump(by_alias=True)`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Status = Literal["queued", "submitted", "running", "succeeded", "failed", "canceled"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "canceled"})


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def wire(self) -> dict[str, Any]:
        """As the gateway sends it (camelCase), ready for `json.dumps`."""
        return self.model_dump(mode="json", by_alias=True)


class QueueInfo(_Wire):
    """Where a queued generation stands: generations sent before it, and seconds until it is sent."""

    position: int
    eta_seconds: int


class Upstream(_Wire):
    job_id: str


class OutputImage(_Wire):
    url: str
    width: int | None = None
    height: int | None = None
    content_type: str | None = None
    # Stored outputs (API v1.1) also say how many bytes and which SHA-256 to expect.
    size: int | None = None
    sha256: str | None = None
    stored: bool | None = None


class Output(_Wire):
    seed: int | None = None
    image: OutputImage


class GenerationError(_Wire):
    code: str
    message: str
    retryable: bool = False


class Links(_Wire):
    # `self` is taken by Python: the attribute is `self_`, the wire name stays "self".
    self_: str = Field(validation_alias=AliasChoices("self", "self_"), serialization_alias="self")
    cancel: str
    events: str


class Generation(_Wire):
    id: str
    status: Status
    created_at: str
    updated_at: str
    completed_at: str | None = None
    request: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] | None = None
    queue: QueueInfo | None = None
    upstream: Upstream | None = None
    outputs: list[Output] = Field(default_factory=list)
    error: GenerationError | None = None
    warnings: list[str] = Field(default_factory=list)
    links: Links | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def raise_for_status(self) -> Generation:
        """This generation unless it failed (GenerationFailed) or was canceled (GenerationCanceled)."""
        from ffgate_client.errors import GenerationCanceled, GenerationFailed

        if self.status == "failed":
            raise GenerationFailed(self)
        if self.status == "canceled":
            raise GenerationCanceled(self)
        return self


class GenerationPage(_Wire):
    items: list[Generation]
    next_cursor: str | None = None


class Model(_Wire):
    """A Firefly custom model, with Firefly's own fields (values pass through unchanged)."""

    asset_id: str
    display_name: str | None = None
    asset_name: str | None = None
    training_mode: str | None = None
    concept_id: str | None = None
    published_state: str | None = None
    base_model: dict[str, Any] | None = None
    sample_prompt: str | None = None
    created_date: int | str | None = None  # Firefly sends epoch milliseconds
    modified_date: int | str | None = None
    version: int | str | None = None
    model_version: str | None = None


class Problem(_Wire):
    """An RFC 9457 problem, as every error of the gateway is answered."""

    type: str = "about:blank"
    title: str = ""
    status: int
    detail: str = ""
    request_id: str = ""
    errors: list[dict[str, Any]] | None = None


class Event(_Wire):
    """One server-sent event of `GET /v1/generations/{id}/events`: a status change."""

    id: str
    event: str
    generation: Generation


class WebhookMessage(_Wire):
    """A verified webhook delivery: `generation.<status>`, when it was sent, the generation then."""

    type: str
    timestamp: str
    data: Generation
    webhook_id: str = ""
