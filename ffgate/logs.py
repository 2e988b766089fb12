"""Logging for every ffgate process: one line per record, as JSON (the default, for containers and log
pipelines) or as readable text (`ffgate dev`), chosen by FFGATE_LOG_FORMAT.

Every line carries the `request_id` it belongs to and, where known, the `generation_id` and `client_id`.
They live in context variables: an asyncio task (one per HTTP request in the gateway, one per job handled in
the worker) binds them once with `bind(...)` and every line it logs afterwards, and every task it starts,
carries them. `bound(...)` binds them for a `with` block only.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any, Literal, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["json", "text"]

_request_id: ContextVar[str] = ContextVar("request_id", default="-")
_generation_id: ContextVar[str | None] = ContextVar("generation_id", default=None)
_client_id: ContextVar[str | None] = ContextVar("client_id", default=None)

NOISY_LOGGERS = ("httpx", "httpcore", "rq.worker", "uvicorn.access")


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str) -> None:
    _request_id.set(value)


def new_request_id() -> str:
    return str(uuid.uuid4())


def bind(
    *, request_id: str | None = None, generation_id: str | None = None, client_id: str | None = None
) -> None:
    """Make the ids given part of every later line of this context (an id left out stays as it was)."""
    if request_id is not None:
        _request_id.set(request_id)
    if generation_id is not None:
        _generation_id.set(generation_id)
    if client_id is not None:
        _client_id.set(client_id)


@contextmanager
def bound(
    *, request_id: str | None = None, generation_id: str | None = None, client_id: str | None = None
) -> Iterator[None]:
    """`bind` for the block only: the ids are what they were before once it ends."""
    tokens: list[tuple[ContextVar[str], Token[str]] | tuple[ContextVar[str | None], Token[str | None]]] = []
    if request_id is not None:
        tokens.append((_request_id, _request_id.set(request_id)))
    if generation_id is not None:
        tokens.append((_generation_id, _generation_id.set(generation_id)))
    if client_id is not None:
        tokens.append((_client_id, _client_id.set(client_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)  # type: ignore[arg-type]


def context_ids() -> dict[str, str]:
    """The ids a line logged here and now carries: `request_id` always ("-" outside any request), the
    others when bound."""
    ids = {"request_id": _request_id.get()}
    generation_id, client_id = _generation_id.get(), _client_id.get()
    if generation_id is not None:
        ids["generation_id"] = generation_id
    if client_id is not None:
        ids["client_id"] = client_id
    return ids


class _ContextFilter(logging.Filter):
    """Puts the context's ids on each record (as attributes, so the JSON formatter emits them as fields)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in context_ids().items():
            setattr(record, name, value)
        return True


class _TextFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__(f"%(asctime)s %(levelname)s {process} %(name)s %(context)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = [f"request_id={getattr(record, 'request_id', '-')}"]
        ids += [
            f"{name}={getattr(record, name)}"
            for name in ("generation_id", "client_id")
            if hasattr(record, name)
        ]
        record.context = " ".join(ids)
        return super().format(record)


class _JsonFormatter(JsonFormatter):
    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {"time": log_data.pop("time"), **log_data}  # first, as a reader scans for it


def json_formatter(process: str) -> logging.Formatter:
    """`{"time", "level", "logger", "message", "process", "request_id", ["generation_id", "client_id"],
    ["exc_info"], ...extra}`: an RFC 3339 UTC time, a traceback as one string field."""
    return _JsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        static_fields={"process": process},
        # uvicorn repeats its message with terminal colours as `color_message`: not for a log pipeline.
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        timestamp="time",
        json_ensure_ascii=False,
    )


def configure_logging(
    level: str, process: str, log_format: LogFormat = "json", *, stream: TextIO | None = None
) -> None:
    """Send every logger's records, as `log_format` lines naming `process`, to `stream` (stderr)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(_ContextFilter())
    handler.setFormatter(json_formatter(process) if log_format == "json" else _TextFormatter(process))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own logging config (if anything in the process applied it) gives its loggers handlers, levels
    # of their own and stops them propagating: every line goes through the one handler, at the one level.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
    # httpx logs every request URL at INFO; status URLs are fine, but nothing upstream needs that volume.
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
