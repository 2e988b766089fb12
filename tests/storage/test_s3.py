"""What only the S3 backend does, against a real S3-compatible server (SeaweedFS) on loopback."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from ffgate.errors import ObjectNotFound, StorageUnavailable
from ffgate.storage import ByteRange, ObjectStore, open_store
from tests.redis_db import make_settings
from tests.s3_server import S3Server, start_s3_server
from tests.storage.conftest import BUCKET, point_aws_at

pytestmark = pytest.mark.anyio


def new_bucket() -> str:
    return f"ffgate-new-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def aws(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    point_aws_at(monkeypatch, s3_server, tmp_path)
    return s3_server


@pytest.fixture
async def s3_store(aws: S3Server, anyio_backend: str) -> AsyncIterator[ObjectStore]:
    store = open_store(make_settings(storage_url=f"s3://{BUCKET}/layout", storage_create_bucket=True))
    yield store
    await store.close()


def bucket_exists(server: S3Server, bucket: str) -> bool:
    try:
        server.client().head_bucket(Bucket=bucket)
    except ClientError as exc:
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        return False
    return True


async def test_a_missing_bucket_is_created_only_when_the_setting_allows(aws: S3Server) -> None:
    bucket = new_bucket()
    refusing = open_store(make_settings(storage_url=f"s3://{bucket}/out"))
    try:
        for attempt in (refusing.put(b"data", "text/plain"), refusing.check()):
            with pytest.raises(StorageUnavailable, match="FFGATE_STORAGE_CREATE_BUCKET") as caught:
                await attempt
            assert caught.value.reason == "no-bucket"
        assert not bucket_exists(aws, bucket)
    finally:
        await refusing.close()

    creating = open_store(make_settings(storage_url=f"s3://{bucket}/out", storage_create_bucket=True))
    try:
        info = await creating.put(b"data", "text/plain")
        assert bucket_exists(aws, bucket)
        assert (await creating.open(info.key)).info.size == 4
    finally:
        await creating.close()


async def test_a_bucket_removed_behind_its_back_is_created_again(aws: S3Server) -> None:
    bucket = new_bucket()
    store = open_store(make_settings(storage_url=f"s3://{bucket}", storage_create_bucket=True))
    try:
        first = await store.put(b"first", "text/plain")
        client = aws.client()
        client.delete_object(Bucket=bucket, Key=f"{first.key[:2]}/{first.key}")
        client.delete_bucket(Bucket=bucket)
        assert not bucket_exists(aws, bucket)
        second = await store.put(b"second", "text/plain")
        assert await store.head(second.key) is not None
    finally:
        await store.close()


async def test_objects_lie_under_the_prefix_by_sha256_as_sent(aws: S3Server, s3_store: ObjectStore) -> None:
    data = os.urandom(50_000)
    info = await s3_store.put(data, "image/jpeg")
    got = aws.client().get_object(Bucket=BUCKET, Key=f"layout/{info.key[:2]}/{info.key}")
    assert got["Body"].read() == data and got["ContentType"] == "image/jpeg"
    assert s3_store.url == f"s3://{BUCKET}/layout"


async def test_strays_under_the_prefix_are_not_listed(aws: S3Server, tmp_path: Path) -> None:
    prefix = f"strays-{uuid.uuid4().hex[:8]}"
    store = open_store(make_settings(storage_url=f"s3://{BUCKET}/{prefix}", storage_create_bucket=True))
    try:
        info = await store.put(b"kept", "text/plain")
        client = aws.client()
        for stray in ("notes.txt", f"{info.key[:2]}/{info.key}.type", f"ff/{info.key}", "00/" + "0" * 63):
            client.put_object(Bucket=BUCKET, Key=f"{prefix}/{stray}", Body=b"x")
        client.put_object(Bucket=BUCKET, Key=f"{prefix}-other/{info.key[:2]}/{info.key}", Body=b"x")
        assert [listed.key async for listed in store.iter_objects()] == [info.key]
    finally:
        await store.close()


async def test_a_stopped_server_gives_storage_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    server = start_s3_server(tmp_path / "weed")
    try:
        point_aws_at(monkeypatch, server, tmp_path)
        store = open_store(make_settings(storage_url=f"s3://{BUCKET}/gone", storage_create_bucket=True))
        info = await store.put(b"stored before the stop", "text/plain")
        server.stop()
        assert not server.alive()
        calls = {
            "put": store.put(b"after the stop", "text/plain"),
            "head": store.head(info.key),
            "open": store.open(info.key, ByteRange(0, 3)),
            "delete": store.delete(info.key),
            "check": store.check(),
            "presign": store.presigned_url(info.key, 60),  # signs locally: still works
        }
        for name, call in calls.items():
            if name == "presign":
                assert str(await call).startswith(server.endpoint)
                continue
            with pytest.raises(StorageUnavailable) as caught:
                await call
            error = caught.value
            assert not isinstance(error, BotoCoreError | ClientError), name
            assert (error.status, error.reason, error.headers["Retry-After"]) == (503, "unreachable", "5"), (
                name
            )
            assert server.endpoint not in error.detail and "127.0.0.1" not in error.detail
        with pytest.raises(StorageUnavailable):
            [listed async for listed in store.iter_objects()]
        await store.close()
    finally:
        server.stop()


async def test_wrong_keys_are_denied_not_missing(
    aws: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = open_store(make_settings(storage_url=f"s3://{BUCKET}/denied", storage_create_bucket=True))
    info = await good.put(b"private", "text/plain")
    await good.close()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-at-all-0123456789")
    bad = open_store(make_settings(storage_url=f"s3://{BUCKET}/denied"))
    try:
        for call in (bad.put(b"x", "text/plain"), bad.open(info.key), bad.check()):
            with pytest.raises(StorageUnavailable) as caught:
                await call
            assert caught.value.reason == "denied"
            assert caught.value.headers["Retry-After"] == "60"
    finally:
        await bad.close()


async def test_no_credentials_at_all_is_unavailable_and_never_asks_the_metadata_service(
    aws: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")  # AWS_EC2_METADATA_DISABLED stays: no link-local traffic
    store = open_store(make_settings(storage_url=f"s3://{BUCKET}/nocreds"))
    try:
        with pytest.raises(StorageUnavailable, match="AWS_ACCESS_KEY_ID") as caught:
            await store.head("0" * 64)
        assert caught.value.reason == "no-credentials"
    finally:
        await store.close()


async def test_the_generic_endpoint_variable_and_aws_region_are_honoured(
    aws: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_aws_at(monkeypatch, aws, tmp_path, AWS_REGION="eu-central-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint)
    settings = make_settings(storage_url=f"s3://{BUCKET}/generic", storage_create_bucket=True)
    assert settings.aws_region == "eu-central-1"
    store = open_store(settings)
    try:
        info = await store.put(b"through AWS_ENDPOINT_URL", "text/plain")
        url = await store.presigned_url(info.key, 120)
        assert url is not None and url.startswith(aws.endpoint + f"/{BUCKET}/generic/")
        assert "%2Feu-central-1%2Fs3%2Faws4_request" in url and "X-Amz-Expires=120" in url  # SigV4
        async with httpx.AsyncClient() as http:
            assert (await http.get(url)).content == b"through AWS_ENDPOINT_URL"
    finally:
        await store.close()


async def test_no_secret_in_reprs_errors_or_logs(
    aws: S3Server, s3_store: ObjectStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # botocore's own debug logging included
    info = await s3_store.put(b"logged?", "text/plain")
    await (await s3_store.open(info.key)).read()
    await s3_store.presigned_url(info.key, 60)
    with pytest.raises(ObjectNotFound) as caught:
        await s3_store.open("f" * 64)
    assert aws.secret_key not in caplog.text
    assert aws.secret_key not in repr(s3_store) + str(caught.value) + repr(caught.value)


async def test_a_presigned_url_expires(aws: S3Server, s3_store: ObjectStore) -> None:
    info = await s3_store.put(b"short-lived", "text/plain")
    with pytest.raises(ValueError, match="presigned"):
        await s3_store.presigned_url(info.key, 0)
    url = await s3_store.presigned_url(info.key, 1)
    assert url is not None
    await anyio.sleep(2.2)
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).status_code == 403
