"""The one interface of the output store, and the small value types both backends share.

Objects are content-addressed: the key is the sha256 of the bytes, hex-encoded, so the same image stored by
two generations (reuse) is one object, a key can be checked against the bytes it names, and nothing that a
client sends can become a path or an object name (every key is validated as 64 hex digits first). Bytes are
stored as given, never re-encoded: Firefly's images may carry Content Credentials.

Every method is async; the backends run their blocking I/O (files, boto3) in threads so the worker's and the
gateway's event loops never wait on a disk or a socket.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, TypeVar

from ffgate.errors import RangeNotSatisfiable, StorageUnavailable

T = TypeVar("T")
Runner = Callable[[Callable[[], T]], Awaitable[T]]

CHUNK_BYTES = 256 * 1024
_KEY = re.compile(r"^[0-9a-f]{64}$")
# A token/type "/" token, optional parameters: nothing that could split a response header.
_CONTENT_TYPE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(;[ -~]*)?$")


def content_key(data: bytes) -> str:
    """The key `data` is stored under: its sha256, 64 lower-case hex digits."""
    return hashlib.sha256(data).hexdigest()


def check_key(key: str) -> str:
    """`key` itself if it is a content key; ValueError otherwise (a caller bug, never a client's input)."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError("a store key is a sha256: 64 lower-case hex digits")
    return key


def check_content_type(content_type: str) -> str:
    """The content type is sent back as a response header: refuse anything that is not one."""
    if len(content_type) > 255 or not _CONTENT_TYPE.match(content_type):
        raise ValueError("not a valid content type (type/subtype, printable ASCII, at most 255 characters)")
    return content_type


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What the store knows of an object: the size and content type it was stored with."""

    key: str
    size: int
    content_type: str

    @property
    def sha256(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True)
class ListedObject:
    """One object seen by a sweep: when it was written matters (a fresh upload may not be recorded yet)."""

    key: str
    size: int
    modified_at: float  # Unix seconds


@dataclass(frozen=True, slots=True)
class ByteRange:
    """One HTTP byte range (RFC 9110 14.1.2): `start-end`, `start-` or, with start None, the last `end`
    bytes. `end` is inclusive, as in the header."""

    start: int | None
    end: int | None = None

    def __post_init__(self) -> None:
        if self.start is None and self.end is None:
            raise ValueError("a byte range needs a start, an end or both")
        if (self.start is not None and self.start < 0) or (self.end is not None and self.end < 0):
            raise ValueError("byte positions are not negative")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError("a byte range ends at or after its start")

    @classmethod
    def last(cls, count: int) -> ByteRange:
        return cls(None, count)

    def header(self) -> str:
        """The `Range` header value, e.g. `bytes=0-99`, `bytes=100-`, `bytes=-500`."""
        if self.start is None:
            return f"bytes=-{self.end}"
        return f"bytes={self.start}-" + ("" if self.end is None else str(self.end))

    def resolve(self, size: int) -> tuple[int, int]:
        """(first byte, length) within an object of `size` bytes; RangeNotSatisfiable if none overlaps."""
        if self.start is None:
            assert self.end is not None
            if self.end == 0 or size == 0:
                raise RangeNotSatisfiable("The range selects no byte of the object.", size=size)
            length = min(self.end, size)
            return size - length, length
        if self.start >= size:
            raise RangeNotSatisfiable("The range starts past the end of the object.", size=size)
        last = size - 1 if self.end is None else min(self.end, size - 1)
        return self.start, last - self.start + 1


class ObjectStream:
    """An opened object: its info, the bytes it serves (`start`, `length`), and those bytes as async chunks.

    Iterate it (`async for chunk in stream`) or `await stream.read()`; close it (`aclose`, or `async with`)
    even when it was not read to the end, which frees the file or the HTTP connection. A body that ends
    early raises StorageUnavailable rather than handing back a short image.
    """

    def __init__(
        self,
        info: ObjectInfo,
        start: int,
        length: int,
        *,
        read: Callable[[int], bytes],
        close: Callable[[], None],
        run: Runner[bytes],
    ) -> None:
        self.info, self.start, self.length = info, start, length
        self._read, self._close, self._run = read, close, run
        self._left = length
        self._closed = False

    @property
    def end(self) -> int:
        """The last byte served (inclusive), as in `Content-Range`."""
        return self.start + self.length - 1

    @property
    def partial(self) -> bool:
        return self.length != self.info.size

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        try:
            while self._left > 0:
                want = min(CHUNK_BYTES, self._left)
                chunk = await self._run(functools.partial(self._read, want))
                if not chunk:
                    raise StorageUnavailable(
                        f"The stored object {self.info.key[:12]}... ended {self._left} bytes early.",
                        reason="short-read",
                    )
                self._left -= len(chunk)
                yield chunk
        finally:
            await self.aclose()

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self])

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()  # closing a file or a pooled HTTP response does not block

    async def __aenter__(self) -> ObjectStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class ObjectStore(Protocol):
    """What the worker (mirroring, sweep) and the gateway (serving, deleting) need of an output store."""

    @property
    def url(self) -> str:
        """Where the store is, as `FFGATE_STORAGE_URL` would say it: safe to log (no secret ever in it)."""
        ...

    async def put(self, data: bytes, content_type: str, *, sha256: str | None = None) -> ObjectInfo:
        """Store `data` under its sha256, atomically: a reader sees all of it or nothing. Storing bytes that
        are already there is harmless: same key, same bytes (the local store skips the write). `sha256`:
        the caller hashed the bytes already (`content_key(data)`, nothing else), so it is not done twice."""
        ...

    async def head(self, key: str) -> ObjectInfo | None:
        """Size and content type of the object, None when there is none."""
        ...

    async def exists(self, key: str) -> bool:
        return await self.head(key) is not None

    async def open(self, key: str, byte_range: ByteRange | None = None) -> ObjectStream:
        """The object's bytes, all or one range. ObjectNotFound, RangeNotSatisfiable."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; removing one that is not there is not an error."""
        ...

    async def presigned_url(self, key: str, expires_in_s: int) -> str | None:
        """A URL that fetches the object without ffgate for `expires_in_s` seconds, where the backend can
        make one (S3); None where it cannot (a local directory). Does not check that the object exists."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The object's file where it is one on this machine (so the gateway can send it with sendfile),
        None elsewhere. Does not check that the file exists."""
        ...

    def iter_objects(self) -> AsyncIterator[ListedObject]:
        """Every object in the store, in no particular order, a page at a time: for the retention sweep.
        A local store also removes, on the way, what a crash left half-written an hour or more ago."""
        ...

    async def check(self) -> None:
        """Readiness: the store answers and can be written (creating the bucket or the directory where
        allowed). StorageUnavailable otherwise."""
        ...

    async def close(self) -> None:
        """Free connections and threads. The store is not used after this."""
        ...


async def to_thread(fn: Callable[[], T]) -> T:
    """The default Runner: the loop's default thread pool."""
    return await asyncio.to_thread(fn)
