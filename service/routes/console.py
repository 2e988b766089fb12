"""The console at `/console`: a static page (service/console/, package data, no build step) over the
JSON API. Serving it needs no key; everything it shows comes from the API with the key the user signs in
with."""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter, Response

from ffgate.errors import NotFound

router = APIRouter(prefix="/console", include_in_schema=False)

FILES = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Scripts and styles from here only; images also from Firefly's URLs and the blob URLs made of ours.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: https: http:; script-src 'self'; style-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'"
    ),
}


@cache
def _read(name: str) -> bytes:
    return resources.files("service").joinpath("console", name).read_bytes()


@router.get("")
async def console() -> Response:
    return Response(_read("index.html"), media_type=FILES["index.html"], headers=_HEADERS)


@router.get("/{name}")
async def asset(name: str) -> Response:
    if name not in FILES:
        raise NotFound(f"No console file '{name}'.")
    return Response(_read(name), media_type=FILES[name], headers=_HEADERS)
