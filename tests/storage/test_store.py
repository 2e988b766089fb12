"""The store's contract, the same for both backends (a local directory, a real S3-compatible server)."""

from __future__ import annotations

import hashlib
import io
import os
import time

import httpx
import pytest
from PIL import Image

from ffgate.errors import ObjectNotFound, RangeNotSatisfiable
from ffgate.storage import ByteRange, ObjectStore, content_key

pytestmark = pytest.mark.anyio


def jpeg_bytes(side: int = 256) -> bytes:
    """A real JPEG with an APP segment after the header, as Content Credentials would add one."""
    out = io.BytesIO()
    Image.effect_noise((side, side), 64).convert("RGB").save(out, "JPEG", quality=90, comment=b"c2pa-like")
    return out.getvalue()


async def test_bytes_come_back_exactly_as_stored(store: ObjectStore) -> None:
    data = jpeg_bytes(1024) + os.urandom(1_500_000)  # over 1 MB: read back in several chunks
    info = await store.put(data, "image/jpeg")
    assert info.key == info.sha256 == hashlib.sha256(data).hexdigest() == content_key(data)
    assert (info.size, info.content_type) == (len(data), "image/jpeg")

    async with await store.open(info.key) as stream:
        chunks = [chunk async for chunk in stream]
    assert len(chunks) > 1
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == info.key
    assert (stream.info, stream.start, stream.length, stream.partial) == (info, 0, len(data), False)


async def test_the_content_type_is_kept(store: ObjectStore) -> None:
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(png, "PNG")
    info = await store.put(png.getvalue(), "image/png")
    head = await store.head(info.key)
    assert head is not None and (head.size, head.content_type) == (len(png.getvalue()), "image/png")
    async with await store.open(info.key) as stream:
        assert stream.info.content_type == "image/png"
        assert await stream.read() == png.getvalue()


async def test_storing_the_same_bytes_again_is_one_object(store: ObjectStore) -> None:
    data = jpeg_bytes()
    first = await store.put(data, "image/jpeg")
    again = await store.put(data, "image/jpeg")
    assert again == first
    assert [listed.key async for listed in store.iter_objects()] == [first.key]


@pytest.mark.parametrize(
    ("byte_range", "start", "length"),
    [
        (ByteRange(0, 9), 0, 10),
        (ByteRange(1000, 1999), 1000, 1000),
        (ByteRange(4000), 4000, 96),  # open-ended
        (ByteRange.last(500), 3596, 500),  # suffix
        (ByteRange.last(10_000), 0, 4096),  # a suffix longer than the object is all of it
        (ByteRange(4090, 9999), 4090, 6),  # an end past the object is clamped
    ],
)
async def test_a_range_reads_just_those_bytes(
    store: ObjectStore, byte_range: ByteRange, start: int, length: int
) -> None:
    data = os.urandom(4096)
    info = await store.put(data, "application/octet-stream")
    async with await store.open(info.key, byte_range) as stream:
        assert (stream.start, stream.length, stream.end) == (start, length, start + length - 1)
        assert stream.info.size == 4096 and stream.partial == (length != 4096)
        assert await stream.read() == data[start : start + length]


async def test_a_range_past_the_end_is_not_satisfiable_and_says_the_size(store: ObjectStore) -> None:
    info = await store.put(b"x" * 100, "text/plain")
    with pytest.raises(RangeNotSatisfiable) as caught:
        await store.open(info.key, ByteRange(100))
    assert caught.value.size == 100
    assert caught.value.headers["Content-Range"] == "bytes */100"


async def test_a_deleted_object_is_gone_and_deleting_again_is_fine(store: ObjectStore) -> None:
    info = await store.put(jpeg_bytes(), "image/jpeg")
    assert await store.exists(info.key)
    await store.delete(info.key)
    assert await store.head(info.key) is None
    assert not await store.exists(info.key)
    with pytest.raises(ObjectNotFound):
        await store.open(info.key)
    await store.delete(info.key)
    assert [listed async for listed in store.iter_objects()] == []


async def test_a_missing_key_is_none_or_not_found(store: ObjectStore) -> None:
    missing = hashlib.sha256(b"never stored").hexdigest()
    assert await store.head(missing) is None
    assert not await store.exists(missing)
    with pytest.raises(ObjectNotFound):
        await store.open(missing)
    with pytest.raises(ObjectNotFound):
        await store.open(missing, ByteRange(0, 10))


@pytest.mark.parametrize(
    "key",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "AB" * 32,
        "ab" * 31,
        "ab" * 32 + "/../x",
        "",
        "ab" * 31 + "..",
        "a\x00" * 32,
    ],
)
async def test_anything_but_a_sha256_is_refused_before_the_store_is_touched(
    store: ObjectStore, key: str
) -> None:
    for call in (store.head, store.open, store.delete, store.exists):
        with pytest.raises(ValueError, match="sha256"):
            await call(key)
    with pytest.raises(ValueError, match="sha256"):
        store.local_path(key)
    with pytest.raises(ValueError, match="sha256"):
        await store.presigned_url(key, 60)


@pytest.mark.parametrize(
    "content_type", ["", "image", "image/png\r\nSet-Cookie: a=b", "image/p ng", "x/" + "y" * 300]
)
async def test_a_content_type_that_is_not_one_is_refused(store: ObjectStore, content_type: str) -> None:
    with pytest.raises(ValueError, match="content type"):
        await store.put(b"data", content_type)


async def test_keys_lists_every_object_once_for_the_sweep(store: ObjectStore) -> None:
    before = time.time()
    stored = {(await store.put(os.urandom(100 + n), "image/jpeg")).key: 100 + n for n in range(5)}
    listed = [item async for item in store.iter_objects()]
    assert {item.key: item.size for item in listed} == stored and len(listed) == 5
    assert all(before - 5 <= item.modified_at <= time.time() + 5 for item in listed)


async def test_a_presigned_url_fetches_the_object_where_the_backend_makes_one(store: ObjectStore) -> None:
    data = jpeg_bytes()
    info = await store.put(data, "image/jpeg")
    url = await store.presigned_url(info.key, 60)
    path = store.local_path(info.key)
    if store.url.startswith("s3://"):
        assert url is not None and path is None
        async with httpx.AsyncClient() as http:
            answer = await http.get(url)
        assert answer.status_code == 200
        assert answer.content == data and answer.headers["content-type"] == "image/jpeg"
        async with httpx.AsyncClient() as http:  # the signature covers the key: another key is refused
            other = await http.get(url.replace(info.key, "0" * 64))
        assert other.status_code == 403
    else:
        assert url is None and path is not None
        assert path.read_bytes() == data  # the file itself, as the gateway would send it


async def test_check_says_the_store_is_ready(store: ObjectStore) -> None:
    await store.check()
    info = await store.put(b"after check", "text/plain")
    assert await store.exists(info.key)
