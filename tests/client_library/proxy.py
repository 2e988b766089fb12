"""A scripted HTTP proxy on loopback, put between the client library and a real gateway (or emulator) to
make the network misbehave on cue: answer an error instead of forwarding, lose the answer of a request
that was forwarded, drop a connection, cut a server-sent event stream or a download short.

It records every request it gets (method, path, headers) and what the upstream answered.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import httpx

Action = Literal["answer", "forward-then-answer", "forward-then-drop", "cut-after-events", "truncate"]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "accept-encoding"}


@dataclass
class Fault:
    """What to do, `times` times, with requests of `method` whose path starts with `path`."""

    method: str
    path: str
    action: Action
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    events: int = 1  # cut-after-events: how many events get through
    times: int = 1


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    upstream_status: int | None = None
    upstream_headers: dict[str, str] = field(default_factory=dict)
    upstream_body: bytes = b""
    fault: Action | None = None


class Proxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request a connection; streams end when it closes

            def do_GET(self) -> None:
                proxy._handle(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._http = httpx.Client(base_url=self.upstream, timeout=90)

    def __enter__(self) -> Proxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def requests(self, method: str, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.method == method and s.path.split("?")[0] == path]

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and path.startswith(fault.path):
                    fault.times -= 1
                    return fault
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        seen = Seen(handler.command, handler.path, headers, body)
        with self._lock:
            self.seen.append(seen)
        fault = self._take(handler.command, handler.path.split("?")[0])
        seen.fault = fault.action if fault else None
        if fault is not None and fault.action == "answer":
            self._answer(handler, fault.status, fault.headers, fault.body)
            return
        forward = {k: v for k, v in headers.items() if k not in HOP_BY_HOP} | {"accept-encoding": "identity"}
        request = self._http.build_request(handler.command, handler.path, headers=forward, content=body)
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError:
            self._answer(handler, 502, {}, b"upstream unreachable")
            return
        try:
            seen.upstream_status = response.status_code
            seen.upstream_headers = dict(response.headers)
            if fault is not None and fault.action == "cut-after-events":
                self._cut_stream(handler, response, fault.events)
                return
            content = response.read()
            seen.upstream_body = content
        finally:
            response.close()
        if fault is None:
            self._answer(handler, response.status_code, dict(response.headers), content)
        elif fault.action == "forward-then-answer":
            self._answer(handler, fault.status, fault.headers, fault.body)
        elif fault.action == "forward-then-drop":
            self._drop(handler)
        elif fault.action == "truncate":
            self._send_head(handler, response.status_code, dict(response.headers), len(content))
            handler.wfile.write(content[: len(content) // 2])
            handler.wfile.flush()
            self._drop(handler)

    def _send_head(
        self, handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], length: int
    ) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            if name.lower() not in HOP_BY_HOP | {"content-encoding", "date", "server"}:
                handler.send_header(name, value)
        handler.send_header("content-length", str(length))
        handler.end_headers()

    def _answer(
        self, handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        self._send_head(handler, status, headers, len(body))
        if handler.command != "HEAD":
            handler.wfile.write(body)

    def _cut_stream(self, handler: BaseHTTPRequestHandler, response: httpx.Response, events: int) -> None:
        handler.send_response(response.status_code)
        for name, value in response.headers.items():
            if name.lower() not in HOP_BY_HOP | {"date", "server"}:
                handler.send_header(name, value)
        handler.end_headers()
        sent = b""
        for chunk in response.iter_raw():
            sent += chunk
            if sent.count(b"\n\n") >= events:
                handler.wfile.write(_first_events(sent, events))
                handler.wfile.flush()
                return  # HTTP/1.0: closing the connection ends the stream, before the terminal event
        handler.wfile.write(sent)

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)


def _first_events(stream: bytes, events: int) -> bytes:
    end = 0
    for _ in range(events):
        end = stream.index(b"\n\n", end) + 2
    return stream[:end]
