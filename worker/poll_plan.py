"""When to ask Firefly about a job next: few status calls per job, yet a finished job is seen quickly.

Firefly gives no progress or ETA for image jobs, so the planner learns how long jobs take (recent durations,
shared by every worker through Redis) and polls little before that and briskly after it. Before anything is
learned, the oldest job still running says how long jobs take at least, so younger ones wait until they are
that old instead of polling all the way.
"""

from __future__ import annotations

import random
import time
from collections import deque

from ffgate.config import Settings

MIN_SAMPLES = 3
QUANTILE = 0.1  # aim the first look at the quick end of recent durations
MAX_JUMP_S = 60.0


class PollPlanner:
    def __init__(self, settings: Settings) -> None:
        self._first = settings.poll_first_s
        self._interval = settings.poll_interval_s
        self._tail = settings.poll_tail_s
        self._max = settings.poll_max_interval_s
        self._durations: deque[float] = deque(maxlen=200)
        self._running_since: dict[str, tuple[float, float]] = {}  # id -> (submitted at, last seen)

    def learn(self, durations: list[float], *, replace: bool = False) -> None:
        if replace:
            self._durations.clear()
        self._durations.extend(durations)

    def expected(self) -> float | None:
        if len(self._durations) < MIN_SAMPLES:
            return None
        ordered = sorted(self._durations)
        return ordered[int(QUANTILE * (len(ordered) - 1))]

    def seen_running(self, gen_id: str, submitted_at: float) -> None:
        self._running_since[gen_id] = (submitted_at, time.time())

    def finished(self, gen_id: str) -> None:
        self._running_since.pop(gen_id, None)

    def next_delay(self, elapsed: float, first: bool) -> float:
        """Seconds until the next status call of a job that has been with Firefly for `elapsed` seconds."""
        expected = self.expected()
        if expected is not None:
            if elapsed < expected - self._tail:
                # Jittered below the jump only: a look after the job finished costs its lag, one before it
                # a tail step (and a look that sees it running teaches a sharp duration, see `sample`).
                return min(expected - elapsed, MAX_JUMP_S) * random.uniform(0.9, 1.0)
            delay = min(self._max, self._tail + 0.25 * (elapsed - expected))
        else:
            delay = self._first if first else self._interval
            oldest = self._oldest_running()
            if oldest is not None and oldest - elapsed > delay:
                delay = min(oldest - elapsed, self._max)
        return delay * random.uniform(0.9, 1.1)

    def sample(self, submitted_at: float, last_running_at: float | None, done_at: float) -> float:
        """The duration to learn from a job found finished at `done_at`: halfway between the last look that
        saw it running and this one. Found finished at its first look, it took at most that long, and
        maybe much less: it teaches one tail step less than that look or than the duration expected now,
        whichever is shorter, so durations that shrink are learned, and a first look that came late (a busy
        worker) never teaches a longer one. (Half of it, as if it had been seen running at submit, would
        teach far too short a duration: every later job polled from then on, ever more slowly.)"""
        if last_running_at is None:
            took = done_at - submitted_at
            expected = self.expected()
            return max(0.0, (took if expected is None else min(took, expected)) - self._tail)
        return max(0.0, (last_running_at + done_at) / 2 - submitted_at)

    def _oldest_running(self) -> float | None:
        # A job not seen for a while was finished elsewhere (another worker) or abandoned: forget it.
        now = time.time()
        stale = [k for k, (_, seen) in self._running_since.items() if now - seen > 2 * self._max]
        for key in stale:
            del self._running_since[key]
        if not self._running_since:
            return None
        return now - min(submitted for submitted, _ in self._running_since.values())
