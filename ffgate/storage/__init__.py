"""The output store: where ffgate keeps the images Firefly made, after Firefly's own URLs expire.

`open_store(settings)` gives the store `FFGATE_STORAGE_URL` names: a local directory (`file:///path`, the
default) or an S3-compatible bucket (`s3://bucket/prefix`). Importing this package stays cheap: boto3 is
imported only when an S3 store is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ffgate.storage.base import ByteRange, ListedObject, ObjectInfo, ObjectStore, ObjectStream, content_key
from ffgate.storage.local import LocalStore
from ffgate.storage.location import FileLocation, S3Location, parse_storage_url

if TYPE_CHECKING:
    from ffgate.config import Settings

__all__ = [
    "ByteRange",
    "FileLocation",
    "ListedObject",
    "LocalStore",
    "ObjectInfo",
    "ObjectStore",
    "ObjectStream",
    "S3Location",
    "content_key",
    "open_store",
    "parse_storage_url",
]


def open_store(settings: Settings) -> ObjectStore:
    """The store the settings name. Makes no request: `await store.check()` tells whether it answers.
    Call it at start: building a boto3 client reads files and holds the caller's thread for a moment."""
    location = settings.storage_location
    if isinstance(location, FileLocation):
        return LocalStore(location.root)
    from ffgate.storage.s3 import S3Store

    return S3Store(location, region=settings.aws_region, create_bucket=settings.storage_create_bucket)
