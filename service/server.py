"""Running an ASGI app the way every ffgate HTTP process does."""

from __future__ import annotations

from typing import Any

import uvicorn
from starlette.types import ASGIApp

from service.shutdown import DrainingServer, Shutdown


def run_http(app: ASGIApp | str, host: str, port: int, **options: Any) -> None:
    """`app` may be an import string (with `factory=True`, a function making it), as worker processes need."""
    uvicorn.run(app, host=host, port=port, loop="uvloop", http="httptools", access_log=False, **options)


def run_draining(
    app: ASGIApp, host: str, port: int, shutdown: Shutdown, drain_s: float, **options: Any
) -> None:
    """`run_http`, with the gateway's three-step stop (service.shutdown)."""
    config = uvicorn.Config(
        app, host=host, port=port, loop="uvloop", http="httptools", access_log=False, **options
    )
    DrainingServer(config, shutdown, drain_s).run()
