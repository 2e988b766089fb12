"""The reference route `bench/mirror.py` compares `GET /v1/generations/{id}/outputs/0` against: a bare
Starlette app that answers `GET /file` with a `FileResponse` of one file. No auth, no Redis, no middleware.

    python -m bench.bare_files --port P --file PATH
"""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Route

from service.server import run_http


def create_app(path: str) -> Starlette:
    async def file(_: Request) -> FileResponse:
        return FileResponse(path, media_type="image/jpeg")

    return Starlette(routes=[Route("/file", file)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", required=True)
    args = parser.parse_args()
    run_http(create_app(args.file), "127.0.0.1", args.port, log_level="warning")


if __name__ == "__main__":
    main()
