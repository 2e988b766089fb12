"""Each API client's request rate: a sliding 60 s window in Redis (`lua/lib/window.lua`, the same window
as the org budget's), checked by the same script that authenticates the client (ffgate.clients.api_keys),
so every gateway replica enforces one limit. (The Adobe org's budget is ffgate.budget.org_budget.)"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimitState:
    """One client's request window as its last request left it."""

    limit: int
    used: int
    reset_ms: int  # until the oldest request in the window leaves it (a slot frees)
    refused: bool

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def reset_s(self) -> int:
        return max(1, math.ceil(self.reset_ms / 1000))
