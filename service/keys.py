"""Names of every Redis key ffgate writes, in one place (RQ keeps its own `rq:` keys)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str

    def generation(self, gen_id: str) -> str:
        return f"{self.prefix}gen:{gen_id}"

    @property
    def schedule(self) -> str:
        """Sorted set of due work: members `poll:<id>` / `submit:<id>`, scored by when they are due."""
        return f"{self.prefix}schedule"

    @property
    def durations(self) -> str:
        """Recent upstream job durations (seconds), newest first, that the poll planners learn from."""
        return f"{self.prefix}durations"

    @property
    def wake(self) -> str:
        """Channel that tells the workers' dispatchers new work is due now (a submit, a delivery)."""
        return f"{self.prefix}wake"

    def delivery(self, webhook_id: str) -> str:
        """One webhook message (an event of a job): its attempt count, body once built, and outcome."""
        return f"{self.prefix}delivery:{webhook_id}"

    def delivery_log(self, gen_id: str) -> str:
        """Every delivery attempt for a job, oldest first (JSON items)."""
        return f"{self.prefix}deliveries:{gen_id}"

    def events(self, gen_id: str) -> str:
        return f"{self.prefix}events:{gen_id}"

    @property
    def events_pattern(self) -> str:
        return f"{self.prefix}events:*"

    def models(self, published_state: str) -> str:
        return f"{self.prefix}models:{published_state}"

    def models_lock(self, published_state: str) -> str:
        return f"{self.prefix}models-lock:{published_state}"

    def ims_token(self, client_id: str) -> str:
        return f"{self.prefix}ims:token:{_digest(client_id)}"

    def ims_lock(self, client_id: str) -> str:
        return f"{self.prefix}ims:lock:{_digest(client_id)}"

    def upstream_window(self, client_id: str) -> str:
        return f"{self.prefix}upstream:minute:{_digest(client_id)}"

    def upstream_day(self, client_id: str, day: str) -> str:
        return f"{self.prefix}upstream:day:{_digest(client_id)}:{day}"

    def upstream_pause(self, client_id: str) -> str:
        return f"{self.prefix}upstream:pause:{_digest(client_id)}"


def _digest(value: str) -> str:
    # Key names show up in monitoring tools; the client id is not a secret, but it need not be spelled out.
    return hashlib.sha256(value.encode()).hexdigest()[:16]
