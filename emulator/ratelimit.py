"""The org-wide request budget: a sliding 60 s window plus a per-UTC-day count (firefly-api.md §6)."""

from __future__ import annotations

import math
from collections import deque

MINUTE_S = 60.0
DAY_S = 86_400.0


class RateLimiter:
    def __init__(self) -> None:
        self._minute: deque[float] = deque()
        self._day = -1
        self._day_count = 0

    def reset(self) -> None:
        self._minute.clear()
        self._day = -1
        self._day_count = 0

    def acquire(self, now: float, rpm: int, rpd: int) -> int | None:
        """Take one slot and return None, or return the whole seconds until one frees (taking nothing)."""
        while self._minute and self._minute[0] <= now - MINUTE_S:
            self._minute.popleft()
        day = int(now // DAY_S)
        if day != self._day:
            self._day, self._day_count = day, 0

        wait = 0.0
        if rpm and len(self._minute) >= rpm:
            # The window may hold more than rpm entries if rpm was lowered at runtime.
            wait = self._minute[len(self._minute) - rpm] + MINUTE_S - now
        if rpd and self._day_count >= rpd:
            wait = max(wait, (day + 1) * DAY_S - now)
        if wait > 0:
            return max(1, math.ceil(wait))

        if rpm:
            self._minute.append(now)
        self._day_count += 1
        return None
