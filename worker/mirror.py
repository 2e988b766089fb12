"""Mirroring: copying a succeeded generation's outputs from Firefly's presigned URLs into the output store.

The copy is a `copy:<id>` entry of the worker's leased schedule (worker.scheduler), made in the same step
that records the success, so it can never be lost. The scheduler hands claimed entries to this lane, which
has its own concurrency (`FFGATE_COPY_CONCURRENCY` generations at once per worker), its own HTTP client and
timeouts, and pushes its entries `FFGATE_COPY_LEASE_S` ahead while it works on them: if the worker dies
mid-copy, the entry comes due again and another worker copies what is not recorded as stored.

Why not RQ (one job per generation)? Measured: a SimpleWorker runs one job at a time, ~290 no-op jobs/s
(2.1 ms CPU each) on the bench machine, and each copy job would hold it for its whole download, so 2,000
generations succeeding at once (bench/mirror.py) would copy one after another per worker; RQ's scheduler
also looks at retries only once a second. On the schedule the copies overlap on the event loop, a retry is
one sorted-set entry due at the back-off (or at the URL's expiry), and the lease gives the takeover.

A failed copy (Firefly unreachable, a 5xx or 403, the store full or down) is retried with back-off until the
output's `upstreamExpiresAt`; after that the output keeps `stored: false` with a `storeError`, and the
generation stays `succeeded`. Every copy's outcome is counted in `ffgate_output_copies_total{outcome}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from httpcore._async.http11 import AsyncHTTP11Connection
from PIL import Image, UnidentifiedImageError
from prometheus_client import Counter

from ffgate.clock import iso
from ffgate.errors import StorageUnavailable
from ffgate.generations.outputs import epoch, pending, upstream_url
from ffgate.generations.states import State
from ffgate.storage.base import check_content_type
from worker.context import WorkerContext

log = logging.getLogger(__name__)

COPY = "copy"
RETRY_BASE_S = 1.0
RETRY_MAX_S = 60.0

# httpcore reads a response 64 KiB at a time, however much the socket holds: a 2 MB output took 32 reads,
# each through h11, anyio and a timeout scope. Up to 1 MiB a read, it takes what the loop has buffered
# (~256 KiB with uvloop), 8-9 reads: 16% less CPU per 2 MB download (measured on the bench machine,
# 5.8 -> 4.9 ms, sha256 included). httpcore has no option for it, so the worker sets the class's constant;
# it only bounds each read (nothing is allocated at that size), so small answers (polls) are unchanged.
READ_BYTES = 1024 * 1024
if getattr(AsyncHTTP11Connection, "READ_NUM_BYTES", READ_BYTES) < READ_BYTES:
    AsyncHTTP11Connection.READ_NUM_BYTES = READ_BYTES

COPIES = Counter("ffgate_output_copies_total", "Output copies into the store, by outcome", ["outcome"])
COPY_BYTES = Counter("ffgate_output_copy_bytes_total", "Bytes of outputs written to the store")


class CopyFailed(Exception):
    """One output could not be copied this time; `outcome` is a short fixed word for the metric."""

    def __init__(self, message: str, outcome: str) -> None:
        super().__init__(message)
        self.outcome = outcome


class Mirror:
    """The copy lane of one worker process."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        settings = ctx.settings
        self._slots = asyncio.Semaphore(settings.copy_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.copy_timeout_s, connect=5.0),
            limits=httpx.Limits(max_connections=4 * settings.copy_concurrency),
            follow_redirects=False,
        )

    def take(self, member: str) -> None:
        """Copy the outputs of a claimed `copy:<id>` entry, in this lane."""
        task = asyncio.create_task(self._run(member))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def busy(self) -> set[asyncio.Task[None]]:
        return self._tasks

    async def _run(self, member: str) -> None:
        gen_id = member.partition(":")[2]
        lease = self.ctx.settings.copy_lease_s
        try:
            await self.ctx.stored.lease(member, time.time() + lease)  # not taken back while it waits
            async with self._slots:
                await self.ctx.stored.lease(member, time.time() + lease)
                async with asyncio.timeout(lease * 0.9):
                    await copy_outputs(self.ctx, self.http, gen_id)
        except Exception as exc:
            # The entry keeps its lease, so it is looked at again (here or by another worker) after it.
            self.ctx.redis_outage.report(exc, log, f"copying the outputs of {gen_id} failed")

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        await self.http.aclose()


async def copy_outputs(ctx: WorkerContext, http: httpx.AsyncClient, gen_id: str) -> None:
    record = await ctx.jobs.get(gen_id)
    if record is None or record.state != State.SUCCEEDED:
        await ctx.jobs.unschedule(f"{COPY}:{gen_id}")
        return
    outputs = [dict(o, image=dict(o.get("image") or {})) for o in record.outputs]
    todo = [o["image"] for o in outputs if pending(o["image"])]
    if not todo:
        await ctx.jobs.unschedule(f"{COPY}:{gen_id}")
        return
    await asyncio.gather(*(_copy_one(ctx, http, gen_id, image) for image in todo))
    attempts = await ctx.stored.attempts(gen_id) + 1
    left = [image for image in todo if pending(image)]
    next_due = None
    if left:
        next_due = time.time() + min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (attempts - 1))
        soonest = min(_expiry(image) for image in left)
        next_due = min(next_due, max(soonest, time.time()))  # one last look when the URL expires
    orphans = await ctx.stored.record(gen_id, outputs, attempts, next_due)
    if orphans is not None:  # deleted while it was being copied: what it alone stored goes too
        for sha in orphans:
            await ctx.store.delete(sha)
        return
    if not left:
        stored = sum(1 for o in outputs if o["image"].get("stored"))
        log.info("outputs of %s copied: %d of %d stored", gen_id, stored, len(outputs))


def _expiry(image: dict[str, Any]) -> float:
    expires = image.get("upstreamExpiresAt")
    return epoch(str(expires)) if expires else float("inf")


async def _copy_one(ctx: WorkerContext, http: httpx.AsyncClient, gen_id: str, image: dict[str, Any]) -> None:
    """Copy one output; updates `image` in place when it is stored, or given up after its URL expired."""
    url = upstream_url(image)
    try:
        if time.time() >= _expiry(image):
            raise CopyFailed("Firefly's URL had expired", "expired")
        data, content_type, sha = await _download(http, url, ctx.settings.copy_max_bytes)
        await ctx.stored.hold(sha, gen_id)
        info = await ctx.store.put(data, content_type, sha256=sha)
    except (CopyFailed, StorageUnavailable) as exc:
        outcome = exc.outcome if isinstance(exc, CopyFailed) else f"store-{exc.reason}"
        COPIES.labels(outcome=outcome).inc()
        if time.time() >= _expiry(image):
            image["storeError"] = f"Not copied before Firefly's URL expired: {exc}"
            log.error("output of %s not stored: %s", gen_id, exc)
        else:
            log.warning("copying an output of %s failed (%s); retrying", gen_id, exc)
        return
    width, height = _pixel_size(data)
    COPIES.labels(outcome="stored").inc()
    COPY_BYTES.inc(info.size)
    image.update(
        stored=True,
        sha256=info.sha256,
        size=info.size,
        contentType=info.content_type,
        storedAt=iso(datetime.now(UTC)),
    )
    if width and height:
        image.update(width=width, height=height)


async def _download(http: httpx.AsyncClient, url: str, max_bytes: int) -> tuple[bytes, str, str]:
    """The output's bytes, content type and sha256. The bytes are hashed as they arrive (hashlib releases
    the GIL, a chunk at a time costs the loop ~40 us) and joined once: no second pass over them, no thread
    hop, and the store gets them as they came, never re-encoded."""
    digest = hashlib.sha256()
    try:
        async with http.stream("GET", url) as response:
            if response.status_code != 200:
                raise CopyFailed(
                    f"Firefly's URL answered {response.status_code}", f"http-{response.status_code}"
                )
            declared = int(response.headers.get("content-length") or 0)
            if declared > max_bytes:
                raise CopyFailed(f"the output is {declared} bytes, over {max_bytes}", "too-large")
            chunks, size = [], 0
            async for chunk in response.aiter_raw():  # Firefly's images are not content-encoded
                size += len(chunk)
                if size > max_bytes:
                    raise CopyFailed(f"the output is over {max_bytes} bytes", "too-large")
                digest.update(chunk)
                chunks.append(chunk)
            content_type = response.headers.get("content-type", "").strip()
    except httpx.TimeoutException:
        raise CopyFailed("no answer in time from Firefly's URL", "timeout") from None
    except httpx.HTTPError as exc:
        raise CopyFailed(f"{type(exc).__name__} fetching Firefly's URL", "unreachable") from None
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    del chunks
    try:
        check_content_type(content_type)
    except ValueError:
        content_type = _sniffed_type(data)
    return data, content_type, digest.hexdigest()


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, extended, progressive, lossless...): C4, C8 and CC are not frames.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset(range(0xD0, 0xDA)) | {0x01}


def _pixel_size(data: bytes) -> tuple[int | None, int | None]:
    """The image's real size, from its header. PNG and JPEG (Firefly's formats) are read here, skipping
    JPEG segments by their lengths: Pillow would read every segment before the frame into memory (Content
    Credentials, comments: megabytes in a padded image). Anything else, or a header this does not follow,
    goes to Pillow, which reads no pixel data for this either."""
    found = _png_size(data) or _jpeg_size(data)
    if found is not None:
        return found
    try:
        with Image.open(io.BytesIO(data)) as picture:
            width, height = picture.size
            return int(width), int(height)
    except (UnidentifiedImageError, OSError, ValueError):
        return None, None


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return (width, height) if width and height else None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    if data[:2] != b"\xff\xd8":
        return None
    at, end = 2, len(data)
    while at + 4 <= end:
        if data[at] != 0xFF:
            return None  # not a marker where one must be: let Pillow judge
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker in _JPEG_STANDALONE:
            at += 2
            continue
        if marker == 0xDA:  # start of scan before any frame header
            return None
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _JPEG_FRAMES:
            if length < 7 or at + 9 > end:
                return None
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            return (width, height) if width and height else None
        if length < 2:
            return None
        at += 2 + length
    return None


def _sniffed_type(data: bytes) -> str:
    try:
        with Image.open(io.BytesIO(data)) as picture:
            return Image.MIME.get(picture.format or "", "application/octet-stream")
    except (UnidentifiedImageError, OSError, ValueError):
        return "application/octet-stream"
