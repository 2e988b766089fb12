"""The output store in any S3-compatible service (AWS S3, MinIO, SeaweedFS, Ceph RGW, GCS interoperability).

boto3 rather than aiobotocore: it is the SDK that AWS maintains, it needs no aiohttp beside the httpx the
project already has, and aiobotocore pins exact botocore releases, which makes every upgrade a two-library
dance. Its blocking calls run in a thread pool of this store's own, sized like boto3's connection pool, so a
slow store holds at most that many threads and never the event loop or the loop's default executor (which
file reads and DNS lookups share).

The endpoint, credentials and the SDK's other options are read by boto3 itself, as every AWS SDK reads
them (`AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles,
instance roles). boto3 ignores `AWS_REGION` (it reads `AWS_DEFAULT_REGION`), so the settings read that one
and pass it on. Nothing here keeps or logs a secret.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar, cast

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ffgate.errors import ObjectNotFound, RangeNotSatisfiable, StorageUnavailable
from ffgate.storage.base import (
    ByteRange,
    ListedObject,
    ObjectInfo,
    ObjectStore,
    ObjectStream,
    check_content_type,
    check_key,
    content_key,
)
from ffgate.storage.location import S3Location
from ffgate.storage.s3_errors import BOTO_ERRORS, translate

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_PRESIGN_S = 7 * 24 * 3600  # SigV4's limit
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_DEFAULT_TYPE = "application/octet-stream"


class S3Store(ObjectStore):
    def __init__(
        self,
        location: S3Location,
        *,
        region: str | None = None,
        create_bucket: bool = False,
        max_connections: int = 16,
    ) -> None:
        self.location = location
        self._bucket = location.bucket
        self._prefix = f"{location.prefix}/" if location.prefix else ""
        self._create_bucket = create_bucket
        config = Config(
            signature_version="s3v4",  # presigned URLs too (boto3 would sign them with SigV2 in us-east-1)
            s3={"addressing_style": location.addressing},
            max_pool_connections=max_connections,
            connect_timeout=5,
            read_timeout=30,
            # Few SDK retries: the mirror retries with its own back-off, a reader is told to come back.
            retries={"mode": "standard", "max_attempts": 3},
        )
        self._client: S3Client = boto3.session.Session().client("s3", region_name=region, config=config)
        self._executor = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix="ffgate-s3")
        self._bucket_ready = False
        self._bucket_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"S3Store({self.url!r})"

    @property
    def url(self) -> str:
        return self.location.url

    def object_name(self, key: str) -> str:
        """The S3 object key of a content key: `<prefix>/<first two hex digits>/<sha256>`."""
        return f"{self._prefix}{check_key(key)[:2]}/{key}"

    def local_path(self, key: str) -> None:
        check_key(key)
        return None

    async def put(self, data: bytes, content_type: str, *, sha256: str | None = None) -> ObjectInfo:
        check_content_type(content_type)
        await self._ensure_bucket()

        def upload() -> ObjectInfo:
            # hashed here: hashlib lets other threads run, the loop is not held
            key = check_key(sha256) if sha256 is not None else content_key(data)
            self._client.put_object(
                Bucket=self._bucket, Key=self.object_name(key), Body=data, ContentType=content_type
            )
            return ObjectInfo(key, len(data), content_type)

        try:
            return await self._call("PutObject", upload)
        except StorageUnavailable as exc:
            if exc.reason != "no-bucket" or not self._create_bucket:
                raise
            self._bucket_ready = False  # deleted since we looked: create it again, then the one retry
            await self._ensure_bucket()
            return await self._call("PutObject", upload)

    async def head(self, key: str) -> ObjectInfo | None:
        name = self.object_name(key)
        try:
            found = await self._call(
                "HeadObject", lambda: self._client.head_object(Bucket=self._bucket, Key=name)
            )
        except ObjectNotFound:
            return None
        return ObjectInfo(key, found["ContentLength"], found.get("ContentType") or _DEFAULT_TYPE)

    async def open(self, key: str, byte_range: ByteRange | None = None) -> ObjectStream:
        name = self.object_name(key)
        params: dict[str, Any] = {"Bucket": self._bucket, "Key": name}
        if byte_range is not None:
            params["Range"] = byte_range.header()

        def get() -> tuple[ObjectInfo, int, int, Any]:
            try:
                got = self._client.get_object(**params)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "InvalidRange":
                    raise
                size = self._client.head_object(Bucket=self._bucket, Key=name)["ContentLength"]
                raise RangeNotSatisfiable("The range starts past the end of the object.", size=size) from None
            length = got["ContentLength"]
            start, size = 0, length
            matched = _CONTENT_RANGE.match(got.get("ContentRange") or "")
            if matched:
                start, size = int(matched[1]), int(matched[3])
            info = ObjectInfo(key, size, got.get("ContentType") or _DEFAULT_TYPE)
            return info, start, length, got["Body"]

        info, start, length, body = await self._call("GetObject", get)

        def read(count: int) -> bytes:
            try:
                chunk: bytes = body.read(count)
            except BOTO_ERRORS as exc:
                raise translate(exc, "GetObject") from exc
            return chunk

        return ObjectStream(info, start, length, read=read, close=body.close, run=self._in_pool)

    async def delete(self, key: str) -> None:
        name = self.object_name(key)
        await self._call("DeleteObject", lambda: self._client.delete_object(Bucket=self._bucket, Key=name))

    async def presigned_url(self, key: str, expires_in_s: int) -> str:
        if not 1 <= expires_in_s <= MAX_PRESIGN_S:
            raise ValueError(f"a presigned URL lasts 1 to {MAX_PRESIGN_S} seconds")
        params = {"Bucket": self._bucket, "Key": self.object_name(key)}
        return await self._call(
            "GetObject",
            lambda: self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in_s),
        )

    async def iter_objects(self) -> AsyncIterator[ListedObject]:
        pages: Iterator[Any] = iter(
            self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=self._prefix)
        )
        pattern = re.compile(re.escape(self._prefix) + r"([0-9a-f]{2})/([0-9a-f]{64})$")
        while (page := await self._call("ListObjectsV2", lambda: next(pages, None))) is not None:
            for item in page.get("Contents", []):
                matched = pattern.match(item["Key"])
                if matched and matched[2].startswith(matched[1]):
                    yield ListedObject(matched[2], item["Size"], item["LastModified"].timestamp())

    async def check(self) -> None:
        self._bucket_ready = False
        await self._ensure_bucket()

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    # --- internals ----------------------------------------------------------------------------------------

    async def _in_pool(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def _call(self, operation: str, fn: Callable[[], T]) -> T:
        try:
            return await self._in_pool(fn)
        except BOTO_ERRORS as exc:
            raise translate(exc, operation) from exc

    async def _ensure_bucket(self) -> None:
        """Once per process (and after a NoSuchBucket): the bucket is there, or made if allowed."""
        if self._bucket_ready:
            return
        async with self._bucket_lock:
            if self._bucket_ready:
                return
            try:
                await self._call("HeadBucket", lambda: self._client.head_bucket(Bucket=self._bucket))
            except StorageUnavailable as exc:
                if exc.reason != "no-bucket":
                    raise
                if not self._create_bucket:
                    raise StorageUnavailable(
                        f"The bucket {self._bucket!r} does not exist: create it, or set "
                        "FFGATE_STORAGE_CREATE_BUCKET=true to let ffgate create it.",
                        reason="no-bucket",
                        retry_after_s=60,
                    ) from None
                await self._call("CreateBucket", self._make_bucket)
            self._bucket_ready = True

    def _make_bucket(self) -> None:
        region = self._client.meta.region_name
        try:
            if region and region not in ("us-east-1", "aws-global"):
                self._client.create_bucket(
                    Bucket=self._bucket,
                    CreateBucketConfiguration={
                        "LocationConstraint": cast("BucketLocationConstraintType", region)
                    },
                )
            else:
                self._client.create_bucket(Bucket=self._bucket)
        except self._client.exceptions.BucketAlreadyOwnedByYou:
            return  # another worker made it first
        log.info("created the output store's bucket %s", self._bucket)
