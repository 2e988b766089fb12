"""The states of a generation, defined once: the record's internal `state` and the public `status`.

    queued -> sending -> submitted -> running -> succeeded | failed | canceled
       |         |  \\-> queued (429, or a transient upstream error: retried later)
       |         \\---> failed (Firefly refused it, or the outcome of the POST is unknown)
       \\-> canceled (cancel before it left the queue) | failed (queued longer than FFGATE_MAX_QUEUE_S)

`sending` means a worker is POSTing the job to Firefly right now; clients see it as `queued`. The Lua
scripts name the same states through `ffgate/redis/lua/lib/states.lua`, which a test checks against these.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SUBMITTED = "submitted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class Status(StrEnum):
    """What clients see: every state but `sending`, which shows as `queued`."""

    QUEUED = "queued"
    SUBMITTED = "submitted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


ACTIVE = (State.QUEUED, State.SENDING, State.SUBMITTED, State.RUNNING)
TERMINAL = (State.SUCCEEDED, State.FAILED, State.CANCELED)
AT_FIREFLY = (State.SUBMITTED, State.RUNNING)


def public_status(state: str) -> Status:
    return Status.QUEUED if state == State.SENDING else Status(state)
