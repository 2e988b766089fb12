"""Entry points: `create_app(settings)` builds the emulator's ASGI app, `serve(...)` runs it with uvicorn.

One process holds all state in memory, so run exactly one (no `--workers`)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from emulator import control, firefly, ims, storage
from emulator.errors import Rejected, unmatched
from emulator.recording import RecordRequests
from emulator.settings import EmulatorSettings
from emulator.state import Emulator
from service.server import run_http

# Ours, not Adobe's: these keep FastAPI's own error bodies.
_OWN_PATHS = ("/_emulator", "/docs", "/redoc", "/openapi.json")


async def _answer_rejected(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, Rejected):
        raise exc
    return exc.response


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths (404) and methods (405) answer as Adobe's services do; the control API as FastAPI."""
    if not isinstance(exc, HTTPException):
        raise exc
    path = request.url.path
    own = any(path == p or path.startswith(p + "/") for p in _OWN_PATHS)
    if own or exc.status_code not in (404, 405):
        return await http_exception_handler(request, exc)
    return unmatched(path, exc.status_code, exc.headers)


async def _client_gone(request: Request, exc: Exception) -> Response:
    # Nobody will read this; 499 (nginx's "client closed request") is what the request log shows.
    return Response(status_code=499)


def create_app(settings: EmulatorSettings) -> FastAPI:
    emulator = Emulator(settings)
    app = FastAPI(
        title="ffgate emulator",
        summary="An offline stand-in for Adobe IMS and Firefly Services, with a control API for tests.",
        version="1",
    )
    app.state.emulator = emulator
    app.add_middleware(RecordRequests, recorder=emulator.record)
    app.add_exception_handler(Rejected, _answer_rejected)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    for module in (ims, firefly, storage, control):
        app.include_router(module.router)
    return app


def serve(settings: EmulatorSettings, host: str, port: int) -> None:
    run_http(create_app(settings), host, port, log_level="warning")
