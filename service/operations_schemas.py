"""The shapes of the operators' JSON (`/v1/admin/generations|queue|budget`), which the console reads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from ffgate.generations.views import Generation


class ClientGeneration(BaseModel):
    clientId: str
    generation: Generation


class ClientGenerationList(BaseModel):
    items: list[ClientGeneration]


class QueuedItem(BaseModel):
    id: str
    position: int
    etaSeconds: int


class ClientQueue(BaseModel):
    clientId: str
    depth: int
    oldestWaitSeconds: float
    head: list[QueuedItem]  # its first jobs, in its queue's order


class QueueView(BaseModel):
    clients: list[ClientQueue]


class BudgetWindow(BaseModel):
    limit: int | None  # None: no limit in this window
    used: int
    remaining: int | None


class BudgetView(BaseModel):
    credential: str
    minute: BudgetWindow
    day: BudgetWindow
    pausedUntil: float | None  # epoch s, while a 429 holds every submit back
    breaker: Literal["closed", "open", "half-open"]
