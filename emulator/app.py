"""Entry points: `create_app(settings)` builds the emulator's ASGI app, `serve(...)` runs it with uvicorn.

One process holds all state in memory, so run exactly one (no `--workers`)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from emulator import control, firefly, ims, storage
from emulator.errors import Rejected
from emulator.recording import RecordRequests
from emulator.state import Emulator
from ffgate.config import Settings
from service.server import run_http


async def _answer_rejected(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, Rejected):
        raise exc
    return exc.response


async def _client_gone(request: Request, exc: Exception) -> Response:
    # Nobody will read this; 499 (nginx's "client closed request") is what the request log shows.
    return Response(status_code=499)


def create_app(settings: Settings) -> FastAPI:
    emulator = Emulator(settings)
    app = FastAPI(
        title="ffgate emulator",
        summary="An offline stand-in for Adobe IMS and Firefly Services, with a control API for tests.",
        version="1",
    )
    app.state.emulator = emulator
    app.add_middleware(RecordRequests, recorder=emulator.record)
    app.add_exception_handler(Rejected, _answer_rejected)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    for module in (ims, firefly, storage, control):
        app.include_router(module.router)
    return app


def serve(settings: Settings, host: str, port: int) -> None:
    run_http(create_app(settings), host, port, log_level="warning")
