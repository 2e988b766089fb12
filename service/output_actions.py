"""What the output routes do: serve one output (from the store, or redirect), sign links, delete.

Every read checks ownership (the owner's key or the admin's) or a valid signed link first: a store key grants
nothing by itself, and another client's generation is a 404 like a missing one.
"""

from __future__ import annotations

import logging
import os
from stat import S_ISREG
from typing import Any

import anyio
from fastapi.responses import FileResponse, RedirectResponse, Response

from ffgate.clients.authentication import ADMIN_CLIENT_ID, Principal
from ffgate.errors import (
    FfgateError,
    Gone,
    NotFound,
    ObjectNotFound,
    ServiceUnavailable,
    StorageUnavailable,
    Unprocessable,
)
from ffgate.generations.outputs import output_path, upstream_url, upstream_valid
from ffgate.generations.records import Record
from ffgate.storage import links
from service.deps import Runtime
from service.generation_actions import owned

__all__ = ["create_link", "delete", "keyless_urls", "linked", "output_bytes", "owned", "serve"]

log = logging.getLogger(__name__)

IMMUTABLE = "private, immutable, max-age=31536000"


def output_of(record: Record, index: int) -> dict[str, Any]:
    if not 0 <= index < len(record.outputs):
        raise NotFound(f"Generation '{record.id}' has no output {index}.")
    image: dict[str, Any] = record.outputs[index].get("image") or {}
    return image


async def linked(rt: Runtime, params: links.SignedParams, gen_id: str, index: int) -> Record:
    """The record a signed link opens, once its signature, expiry and clients are checked."""
    signer = links.verify(rt.settings, params, gen_id, index)
    record = await rt.jobs.get(gen_id)
    if record is None:
        raise NotFound(f"No generation '{gen_id}'.")
    for client_id in {signer, record.client_id} - {ADMIN_CLIENT_ID, ""}:
        try:
            client = await rt.clients.get(client_id)
        except NotFound:
            raise links.revoked(client_id) from None
        if client.revoked_at:
            raise links.revoked(client_id)
    return record


async def serve(rt: Runtime, record: Record, index: int, if_none_match: str | None) -> Response:
    """The output's bytes (a local store sends its file), a redirect to a short-lived store URL (S3), or
    until it is stored a redirect to Firefly's URL while that is valid."""
    image = output_of(record, index)
    if not image.get("stored"):
        return _upstream(record, index, image)
    sha = str(image["sha256"])
    headers = {"ETag": f'"{sha}"', "Cache-Control": IMMUTABLE}
    if if_none_match and sha in if_none_match:
        return Response(status_code=304, headers=headers)
    path = rt.store.local_path(sha)
    if path is None:
        url = await rt.store.presigned_url(sha, rt.settings.store_redirect_s)
        assert url is not None  # a store without local files presigns
        return RedirectResponse(url, 302, headers={"Cache-Control": "private, no-store"})
    try:
        stat = await anyio.to_thread.run_sync(os.stat, path)
    except FileNotFoundError:
        return _fallback(record, index, image, ObjectNotFound(f"Output {index} is no longer stored."))
    except OSError as exc:
        unavailable = StorageUnavailable(
            f"The output store failed ({type(exc).__name__}).", reason="io-error"
        )
        return _fallback(record, index, image, unavailable)
    if not S_ISREG(stat.st_mode):
        unavailable = StorageUnavailable("The output store holds no file there.", reason="io-error")
        return _fallback(record, index, image, unavailable)
    media_type = str(image.get("contentType") or "application/octet-stream")
    return FileResponse(path, headers=headers, media_type=media_type, stat_result=stat)


def _upstream(record: Record, index: int, image: dict[str, Any]) -> Response:
    if upstream_valid(image):
        return RedirectResponse(upstream_url(image), 302, headers={"Cache-Control": "private, no-store"})
    if image.get("storeError"):
        raise Gone(f"Output {index} of '{record.id}' was not stored: {image['storeError']}")
    raise StorageUnavailable(
        f"Output {index} of '{record.id}' is still being copied into the store.", reason="copy-pending"
    )


def _fallback(record: Record, index: int, image: dict[str, Any], error: FfgateError) -> Response:
    """The store cannot give the bytes: Firefly's URL while it works, else the error."""
    log.warning("output %d of %s: %s", index, record.id, error.detail)
    if upstream_valid(image):
        return RedirectResponse(upstream_url(image), 302, headers={"Cache-Control": "private, no-store"})
    if isinstance(error, ObjectNotFound):
        raise Gone(error.detail)
    raise error


async def create_link(
    rt: Runtime, principal: Principal, gen_id: str, index: int, expires_in_s: int | None
) -> links.Link:
    record = await owned(rt, principal, gen_id)
    output_of(record, index)
    expires = rt.settings.link_default_expires_s if expires_in_s is None else expires_in_s
    if not 1 <= expires <= rt.settings.link_max_expires_s:
        message = f"expiresIn must be 1 to {rt.settings.link_max_expires_s} seconds."
        raise Unprocessable(message, errors=[{"loc": ["body", "expiresIn"], "msg": message}])
    base = (rt.settings.public_base_url or "").rstrip("/")
    path = base + output_path(gen_id, index)
    return links.sign(rt.settings, path, gen_id, index, principal.client_id, expires)


async def delete(rt: Runtime, principal: Principal, gen_id: str) -> None:
    """The record goes at once; then the objects only it referred to (the sweep retries any left)."""
    await owned(rt, principal, gen_id)
    for sha in await rt.stored.delete(gen_id):
        try:
            await rt.store.delete(sha)
        except StorageUnavailable as exc:
            log.warning("deleting a stored output of %s failed (%s); the sweep will", gen_id, exc.reason)


def keyless_urls(rt: Runtime, record: Record, base: str) -> list[str]:
    """URLs of the outputs that work without a key, for the compatible surfaces (whose clients fetch
    `image.url` as given, as they would Firefly's presigned ones): Firefly's own URL until the output is
    stored, then a signed link made for the owner, valid FFGATE_LINK_DEFAULT_EXPIRES_S."""
    urls = []
    for index, output in enumerate(record.outputs):
        image = output.get("image") or {}
        url = upstream_url(image)
        if image.get("stored"):
            try:
                path = base + output_path(record.id, index)
                owner = record.client_id or ADMIN_CLIENT_ID
                url = links.sign(
                    rt.settings, path, record.id, index, owner, rt.settings.link_default_expires_s
                ).url
            except ServiceUnavailable:  # no link secret: Firefly's URL while it lasts
                pass
        urls.append(url)
    return urls


async def output_bytes(rt: Runtime, record: Record, index: int) -> bytes:
    """One output's bytes, from the store once stored, else from Firefly's URL."""
    image = output_of(record, index)
    if image.get("stored"):
        async with await rt.store.open(str(image["sha256"])) as stream:
            return await stream.read()
    fetched = await rt.http.get(upstream_url(image))
    if fetched.status_code != 200:
        raise StorageUnavailable(
            f"Output {index} of '{record.id}' is not stored yet and Firefly's URL answered "
            f"{fetched.status_code}.",
            reason="copy-pending",
        )
    return fetched.content
