"""The output store as a local directory: the default, and what `ffgate dev` uses.

Layout: `<root>/<first two hex digits>/<sha256>` holds the bytes exactly as stored (so the gateway can send
the file itself), and `<sha256>.type` beside it the content type. Both are written to a temporary file in
the same directory, flushed to disk and renamed into place, so a reader or a crash never sees half an
object; the type goes first, so an object whose bytes are visible always has its type. Keys are validated
as 64 hex digits before any path is built, and the path is checked to lie inside the root all the same.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

from ffgate.errors import ObjectNotFound, StorageUnavailable
from ffgate.storage.base import (
    ByteRange,
    ListedObject,
    ObjectInfo,
    ObjectStore,
    ObjectStream,
    check_content_type,
    check_key,
    content_key,
    to_thread,
)
from ffgate.storage.location import FileLocation

T = TypeVar("T")

TYPE_SUFFIX = ".type"
TEMP_PREFIX = ".tmp-"
LEFTOVER_AGE_S = 3600  # no write takes this long: older temporary files are a crash's, and go
DEFAULT_TYPE = "application/octet-stream"
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}


class LocalStore(ObjectStore):
    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        # fsync: an object the worker has recorded as stored must survive a power cut, not just a crash.
        self.root = Path(os.path.abspath(root))
        self._fsync = fsync

    def __repr__(self) -> str:
        return f"LocalStore({self.url!r})"

    @property
    def url(self) -> str:
        return FileLocation(self.root).url

    def local_path(self, key: str) -> Path:
        path = self.root / check_key(key)[:2] / key
        if not path.is_relative_to(self.root):  # unreachable with a checked key; kept as a second lock
            raise ValueError("a store key must name a file inside the store")
        return path

    async def put(self, data: bytes, content_type: str, *, sha256: str | None = None) -> ObjectInfo:
        check_content_type(content_type)
        return await self._run(lambda: self._put(data, content_type, sha256))

    async def head(self, key: str) -> ObjectInfo | None:
        path = self.local_path(key)
        return await self._run(lambda: self._head(path, key))

    async def open(self, key: str, byte_range: ByteRange | None = None) -> ObjectStream:
        path = self.local_path(key)
        info, file = await self._run(lambda: self._open(path, key))
        try:
            start, length = (0, info.size) if byte_range is None else byte_range.resolve(info.size)
            if start:
                file.seek(start)
        except BaseException:
            file.close()
            raise
        return ObjectStream(info, start, length, read=self._reader(file), close=file.close, run=to_thread)

    async def delete(self, key: str) -> None:
        path = self.local_path(key)
        await self._run(lambda: self._delete(path))

    async def presigned_url(self, key: str, expires_in_s: int) -> None:
        check_key(key)
        return None

    async def iter_objects(self) -> AsyncIterator[ListedObject]:
        shards = await self._run(lambda: sorted(self._shards()))
        for shard in shards:
            for listed in await self._run(functools.partial(self._list, shard)):
                yield listed

    async def check(self) -> None:
        def probe() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-"):
                pass

        await self._run(probe)

    async def close(self) -> None:
        return None

    # --- blocking parts, run in a thread ----------------------------------------------------------------

    async def _run(self, fn: Callable[[], T]) -> T:
        try:
            return await to_thread(fn)
        except OSError as exc:
            raise _translate(exc) from exc

    def _put(self, data: bytes, content_type: str, sha256: str | None) -> ObjectInfo:
        key = check_key(sha256) if sha256 is not None else content_key(data)
        path = self.local_path(key)
        existing = self._head(path, key)
        if existing is not None and existing.size == len(data):
            return existing  # same sha256, same bytes: already stored
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_atomically(path.with_name(key + TYPE_SUFFIX), content_type.encode("ascii"))
        self._write_atomically(path, data)
        return ObjectInfo(key, len(data), content_type)

    def _write_atomically(self, path: Path, data: bytes) -> None:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                if self._fsync:
                    out.flush()
                    os.fsync(out.fileno())
            os.chmod(temp, 0o640)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        if self._fsync:
            directory = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def _head(self, path: Path, key: str) -> ObjectInfo | None:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return None
        return ObjectInfo(key, size, self._content_type(path))

    def _content_type(self, path: Path) -> str:
        try:
            return path.with_name(path.name + TYPE_SUFFIX).read_text("ascii").strip() or DEFAULT_TYPE
        except FileNotFoundError:
            return DEFAULT_TYPE

    def _open(self, path: Path, key: str) -> tuple[ObjectInfo, BinaryIO]:
        try:
            file = path.open("rb")
        except FileNotFoundError:
            raise ObjectNotFound(f"No stored object {key[:12]}...") from None
        try:
            info = ObjectInfo(key, os.fstat(file.fileno()).st_size, self._content_type(path))
        except BaseException:
            file.close()
            raise
        return info, file

    @staticmethod
    def _reader(file: BinaryIO) -> Callable[[int], bytes]:
        def read(count: int) -> bytes:
            try:
                return file.read(count)
            except OSError as exc:
                raise _translate(exc) from exc

        return read

    def _delete(self, path: Path) -> None:
        path.unlink(missing_ok=True)  # the bytes first: without them the object is gone for readers
        path.with_name(path.name + TYPE_SUFFIX).unlink(missing_ok=True)

    def _shards(self) -> list[Path]:
        try:
            return [entry for entry in self.root.iterdir() if len(entry.name) == 2 and entry.is_dir()]
        except FileNotFoundError:
            return []

    def _list(self, shard: Path) -> list[ListedObject]:
        listed: list[ListedObject] = []
        try:
            entries = os.scandir(shard)
        except FileNotFoundError:  # swept away meanwhile
            return listed
        stale = time.time() - LEFTOVER_AGE_S
        with entries:
            for entry in entries:
                try:
                    if len(entry.name) == 64 and entry.name[:2] == shard.name:
                        check_key(entry.name)
                        stat = entry.stat()
                        listed.append(ListedObject(entry.name, stat.st_size, stat.st_mtime))
                    elif self._is_leftover(shard, entry.name) and entry.stat().st_mtime < stale:
                        os.unlink(entry.path)
                except (ValueError, FileNotFoundError):
                    continue  # not an object (a stray), or deleted meanwhile
        return listed

    @staticmethod
    def _is_leftover(shard: Path, name: str) -> bool:
        """A write a crash cut short: a temporary file, or a content type whose bytes never arrived."""
        if name.startswith(TEMP_PREFIX):
            return True
        return name.endswith(TYPE_SUFFIX) and not (shard / name.removesuffix(TYPE_SUFFIX)).exists()


def _translate(exc: OSError) -> StorageUnavailable:
    """An OS error as the one the project's callers handle: the message names no path (nothing internal)."""
    name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    if exc.errno in _FULL:
        return StorageUnavailable(f"The output store's disk is full ({name}).", reason="disk-full")
    if exc.errno in _DENIED:
        return StorageUnavailable(
            f"The output store's directory cannot be written ({name}).", reason="denied", retry_after_s=60
        )
    return StorageUnavailable(f"The output store failed ({name}).", reason="io-error")
