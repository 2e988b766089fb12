"""What only the local-directory backend does: its files, atomic writes, and its errors."""

from __future__ import annotations

import errno
import hashlib
import os
import time
from pathlib import Path

import anyio
import pytest

from ffgate.errors import StorageUnavailable
from ffgate.storage import LocalStore, open_store
from ffgate.storage.local import _translate
from tests.redis_db import make_settings

pytestmark = pytest.mark.anyio


def all_files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


async def test_an_object_is_a_plain_file_named_by_its_sha256(tmp_path: Path) -> None:
    store = open_store(make_settings(storage_url=f"file://{tmp_path}/out"))
    assert isinstance(store, LocalStore) and store.url == f"file://{tmp_path}/out"
    data = os.urandom(10_000)
    info = await store.put(data, "image/jpeg")
    key = hashlib.sha256(data).hexdigest()
    assert all_files(tmp_path / "out") == [f"{key[:2]}/{key}", f"{key[:2]}/{key}.type"]
    assert store.local_path(key) == tmp_path / "out" / key[:2] / key
    assert (tmp_path / "out" / key[:2] / key).read_bytes() == data
    assert info.content_type == (tmp_path / "out" / key[:2] / f"{key}.type").read_text()


async def test_concurrent_puts_of_the_same_bytes_leave_one_object_and_no_temporary_file(
    tmp_path: Path,
) -> None:
    store = LocalStore(tmp_path)
    data = os.urandom(300_000)
    async with anyio.create_task_group() as group:
        for _ in range(12):
            group.start_soon(store.put, data, "image/png")
    key = hashlib.sha256(data).hexdigest()
    assert all_files(tmp_path) == [f"{key[:2]}/{key}", f"{key[:2]}/{key}.type"]
    assert (await (await store.open(key)).read()) == data


async def test_the_sweep_sees_objects_only_and_clears_what_a_crash_left(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    info = await store.put(b"kept", "text/plain")
    shard = tmp_path / info.key[:2]
    two_hours_ago = time.time() - 7200
    for name, old in [(".tmp-abandoned", True), (".tmp-being-written", False), ("1" * 64 + ".type", True)]:
        (shard / name).write_bytes(b"half")
        if old:
            os.utime(shard / name, (two_hours_ago, two_hours_ago))
    os.utime(shard / f"{info.key}.type", (two_hours_ago, two_hours_ago))  # its bytes are there: kept
    (shard / ("0" * 64)).write_bytes(b"in the wrong shard")
    (tmp_path / "README").write_text("not an object")
    (tmp_path / "zz").mkdir()
    (tmp_path / "zz" / ("z" * 64)).write_text("not hex")

    assert [listed.key async for listed in store.iter_objects()] == [info.key]
    assert sorted(path.name for path in shard.iterdir()) == sorted(
        [".tmp-being-written", "0" * 64, info.key, f"{info.key}.type"]
    )
    assert await store.head(info.key) == info


async def test_a_store_that_was_never_written_is_empty(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "not-yet")
    assert [listed async for listed in store.iter_objects()] == []
    assert await store.head("a" * 64) is None
    await store.check()  # makes the directory
    assert (tmp_path / "not-yet").is_dir() and all_files(tmp_path / "not-yet") == []


async def test_a_directory_that_cannot_be_made_gives_storage_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("in the way")
    store = LocalStore(tmp_path / "a-file" / "out")
    for call in (store.put(b"x", "text/plain"), store.check()):
        with pytest.raises(StorageUnavailable) as caught:
            await call
        assert (caught.value.reason, caught.value.status) == ("io-error", 503)
        assert str(tmp_path) not in caught.value.detail


@pytest.mark.parametrize(
    ("number", "reason", "retry_after"),
    [
        (errno.ENOSPC, "disk-full", "5"),
        (errno.EDQUOT, "disk-full", "5"),
        (errno.EACCES, "denied", "60"),
        (errno.EROFS, "denied", "60"),
        (errno.EIO, "io-error", "5"),
    ],
)
def test_os_errors_become_storage_unavailable(number: int, reason: str, retry_after: str) -> None:
    error = _translate(OSError(number, os.strerror(number), "/secret/path"))
    assert (error.reason, error.headers["Retry-After"]) == (reason, retry_after)
    assert "/secret/path" not in error.detail and errno.errorcode[number] in error.detail
