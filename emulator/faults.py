"""Scripted misbehaviour: request faults (an endpoint answers an error, optionally after a delay) and outcome
rules (jobs whose prompt matches end a chosen way)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from emulator.errors import Endpoint
from emulator.jobs import Outcome

# `image`: the presigned output URLs (S3 in Adobe's deployment), which answer S3 XML errors.
FaultEndpoint = Endpoint | Literal["image"]


class FaultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: FaultEndpoint
    status: int | None = Field(503, ge=400, le=599, description="None: only delay, then answer normally.")
    count: int | None = Field(None, ge=1, description="Matching requests affected; None: no count limit.")
    durationS: float | None = Field(None, gt=0, description="Active this long from now; None: no time limit.")
    retryAfterS: int | None = Field(None, ge=0)
    retryAfterFormat: Literal["seconds", "http-date"] | None = None
    delayS: float = Field(0.0, ge=0)


class OutcomeRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    promptContains: str = Field(description="Case-sensitive substring; empty matches every prompt.")
    outcome: Outcome
    errorCode: str | None = None
    message: str | None = None
    latencyS: float | None = Field(None, ge=0)


@dataclass(slots=True)
class _Fault:
    spec: FaultIn
    remaining: int | None
    until: float | None


class FaultBook:
    def __init__(self) -> None:
        self._faults: list[_Fault] = []

    def add(self, spec: FaultIn, now: float) -> None:
        until = now + spec.durationS if spec.durationS is not None else None
        self._faults.append(_Fault(spec, spec.count, until))

    def clear(self) -> None:
        self._faults.clear()

    def take(self, endpoint: FaultEndpoint, now: float) -> FaultIn | None:
        """The first live fault for `endpoint`, spending one of its count."""
        self._faults = [f for f in self._faults if f.until is None or now < f.until]
        for fault in self._faults:
            if fault.spec.endpoint != endpoint:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
            return fault.spec
        return None

    def listing(self, now: float) -> list[dict[str, object]]:
        return [
            {
                **f.spec.model_dump(),
                "remaining": f.remaining,
                "remainingS": None if f.until is None else f.until - now,
            }
            for f in self._faults
            if f.until is None or now < f.until
        ]


class OutcomeRules:
    def __init__(self) -> None:
        self._rules: list[OutcomeRuleIn] = []

    def add(self, rule: OutcomeRuleIn) -> None:
        self._rules.append(rule)

    def clear(self) -> None:
        self._rules.clear()

    def match(self, prompt: str) -> OutcomeRuleIn | None:
        return next((rule for rule in self._rules if rule.promptContains in prompt), None)

    def listing(self) -> list[dict[str, object]]:
        return [rule.model_dump() for rule in self._rules]
