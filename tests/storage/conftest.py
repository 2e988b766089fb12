"""Each storage test runs against both backends: a local directory and a real S3-compatible server."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ffgate.config import Settings
from ffgate.storage import ObjectStore, open_store
from tests.redis_db import make_settings
from tests.s3_server import S3Server

BUCKET = "ffgate-tests"


def point_aws_at(monkeypatch: pytest.MonkeyPatch, server: S3Server, home: Path, **extra: str) -> None:
    """The machine's AWS_* variables out, the server's in: boto3 reads only what the test set."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in {**server.env(home), **extra}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(params=["file", "s3"])
def store_settings(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """FFGATE_STORAGE_URL for a fresh, empty store of each kind (an S3 store gets a prefix of its own)."""
    if request.param == "file":
        return make_settings(storage_url=f"file://{tmp_path}/outputs")
    server: S3Server = request.getfixturevalue("s3_server")
    point_aws_at(monkeypatch, server, tmp_path)
    return make_settings(storage_url=f"s3://{BUCKET}/t-{uuid.uuid4().hex[:12]}", storage_create_bucket=True)


@pytest.fixture
async def store(store_settings: Settings, anyio_backend: str) -> AsyncIterator[ObjectStore]:
    opened = open_store(store_settings)
    try:
        yield opened
    finally:
        await opened.close()
