"""ASGI middleware: request id, body limits and content type (before any parsing), and metrics."""

from __future__ import annotations

import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ffgate.errors import FfgateError, PayloadTooLarge, UnsupportedMediaType
from ffgate.logs import new_request_id, set_request_id
from ffgate.metrics import HTTP_REQUEST_DURATION
from ffgate.numbers import ascii_int
from service.problems import error_response
from service.response_headers import extra_headers

_VALID_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,200}$")
_JSON_TYPE = re.compile(r"^application/([\w.+-]+\+)?json\s*(;.*)?$", re.IGNORECASE)
_FORM_TYPE = re.compile(r"^application/x-www-form-urlencoded\s*(;.*)?$", re.IGNORECASE)
_BODY_METHODS = {"POST", "PUT", "PATCH"}
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}  # a label: others are `other`


class RequestContext:
    """Gives every request an id (echoed or generated) and refuses bodies that are too large or not JSON.

    Also sends the headers added through `service.response_headers` (e.g. `RateLimit-*`), whichever way the
    request is answered.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _VALID_REQUEST_ID.match(given) else new_request_id()
        set_request_id(request_id)
        extra: list[tuple[bytes, bytes]] = []
        extra_headers.set(extra)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message["headers"] = [*raw, (b"x-request-id", request_id.encode()), *extra]
            await send(message)

        if scope["method"] in _BODY_METHODS:
            try:
                body = await self._read_body(headers, receive, form=scope["path"].startswith("/ims/"))
            except FfgateError as exc:
                await error_response(exc, scope["path"])(scope, _drained, send_with_id)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send_with_id)

    async def _read_body(self, headers: dict[str, str], receive: Receive, *, form: bool) -> bytes:
        """The body, once it is known to be small enough and JSON (or, when `form`, also an HTML form:
        the Firefly-compatible `/ims/token`, as Adobe IMS takes its parameters)."""
        declared = ascii_int(headers.get("content-length"))
        if declared is not None and declared > self.max_body:
            raise PayloadTooLarge(f"The request body is over {self.max_body} bytes.")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise PayloadTooLarge(f"The request body is over {self.max_body} bytes.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = headers.get("content-type", "")
        if form and _FORM_TYPE.match(content_type):
            return body
        if (body or content_type) and not _JSON_TYPE.match(content_type):
            raise UnsupportedMediaType(f"Send application/json, not {content_type or 'no content type'}.")
        return body


def _replay(body: bytes, downstream: Receive) -> Receive:
    """Hand the buffered body on once, then pass through (so a disconnect is still seen)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await downstream()

    return receive


async def _drained() -> Message:
    return {"type": "http.disconnect"}


class Metrics:
    """Counts and times requests by route template (never by raw path: ids would explode the labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"] if scope["method"] in _METHODS else "other"
            HTTP_REQUEST_DURATION.labels(route, method, str(status)).observe(time.perf_counter() - started)
