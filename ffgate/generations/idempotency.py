"""`Idempotency-Key` on `POST /v1/generations`: a client retrying a submit never pays twice.

The key is scoped to the client and kept for 24 h as `idem:<client>:<sha256(key)>` = "<fingerprint> <job id>",
where the fingerprint is the SHA-256 of the body's canonical JSON. Looking the key up and creating the job
are one Lua script (ffgate.generations.admission), so of any number of concurrent requests with one key
exactly one
creates a job; every other one finds the key and gets that job. There is therefore never a duplicate "still
being created" that would need a 409: a duplicate waits for nothing, and is answered with the original job.

- same key, same body, within 24 h: the original job (same `id`), answered like the first time (202 with
  `Location`), plus `Idempotent-Replayed: true`; nothing is queued and no quota is spent;
- same key, another body: 422;
- a request that was refused (invalid, over quota, ...) created nothing and stored nothing: retrying it with
  the same key is a first attempt.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ffgate.errors import Unprocessable

IDEMPOTENCY_TTL_S = 24 * 3600


def fingerprint(body: dict[str, Any]) -> str:
    """The same for two bodies that say the same thing (key order and spacing do not matter): `body` is
    the request as parsed, with only the fields the client set."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class IdempotencyKey:
    header: str
    fingerprint: str

    @classmethod
    def of(cls, header: str, body: dict[str, Any]) -> IdempotencyKey:
        return cls(header, fingerprint(body))


def different_body(header: str) -> Unprocessable:
    message = f"Idempotency-Key '{header}' was used in the last 24 h with a different request body."
    return Unprocessable(message, errors=[{"loc": ["header", "Idempotency-Key"], "msg": message}])
