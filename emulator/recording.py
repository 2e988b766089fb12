"""What the emulator remembers about the requests it answered: a bounded, numbered log for the control API,
filled by an ASGI middleware so that every answer (including ones FastAPI itself produces) is seen."""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.errors import Endpoint

LOG_SIZE = 50_000

_PREFIXES: tuple[tuple[str, Endpoint], ...] = (("/v3/status/", "status"), ("/v3/cancel/", "cancel"))
_PATHS: dict[str, Endpoint] = {
    "/ims/token/v2": "token",
    "/ims/token/v3": "token",
    "/v3/custom-models": "models",
    "/v3/images/generate-async": "generate",
}


def classify(path: str) -> tuple[Endpoint, str | None] | None:
    """(endpoint, job id in the path) for an upstream API path; None for anything else."""
    if path in _PATHS:
        return _PATHS[path], None
    for prefix, endpoint in _PREFIXES:
        if path.startswith(prefix):
            return endpoint, path[len(prefix) :]
    return None


class RequestLog:
    def __init__(self, size: int = LOG_SIZE) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=size)
        self._seq = 0

    def reset(self) -> None:
        self._items.clear()
        self._seq = 0

    def add(self, **fields: Any) -> None:
        self._seq += 1
        self._items.append({"seq": self._seq, **fields})

    def since(self, seq: int, limit: int) -> dict[str, Any]:
        """Entries numbered above `seq` (oldest first, at most `limit`) and the cursor for the next call."""
        if not self._items:
            return {"items": [], "next": max(seq, self._seq)}
        # Sequence numbers are contiguous, so the first wanted entry's position is arithmetic.
        skip = max(0, seq - self._items[0]["seq"] + 1)
        items = list(islice(self._items, skip, skip + limit))
        return {"items": items, "next": items[-1]["seq"] if items else max(seq, self._seq)}


# Called once per answered upstream request: (endpoint, status, request-log entry).
Recorder = Callable[[Endpoint, int, dict[str, Any]], None]


class RecordRequests:
    """Logs each upstream API request with the status it got, and echoes (or invents) `x-request-id` as
    Adobe's gateway does. Each entry: `at`, `method`, `endpoint`, `path`, `status`, `requestId`,
    `modelVersion` (the `x-model-version` header as received, null when absent), `jobId`, `customModelId`
    (generate only) and `ignoredFields` (the body fields an accepted generate had that its model version
    does not support). Routes fill the last three through `request.state` (`job_id`, `custom_model_id`,
    `ignored_fields`)."""

    def __init__(self, app: ASGIApp, recorder: Recorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = classify(scope["path"]) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        endpoint, path_job_id = match
        at = time.time()
        headers = Headers(scope=scope)
        request_id = headers.get("x-request-id")
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 500

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).setdefault("x-request-id", request_id or uuid.uuid4().hex)
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            entry = {
                "at": at,
                "method": scope["method"],
                "endpoint": endpoint,
                "path": scope["path"],
                "status": status,
                "requestId": request_id,
                "modelVersion": headers.get("x-model-version"),
                "jobId": state.get("job_id", path_job_id),
                "customModelId": state.get("custom_model_id"),
                "ignoredFields": list(state.get("ignored_fields", ())),
            }
            self.recorder(endpoint, status, entry)
