"""Where the output store lives: `FFGATE_STORAGE_URL` parsed, checked and put in one canonical form.

Kept free of heavy imports (no boto3) because `ffgate.config` validates the URL with it, and the settings are
read by every process, including `ffgate --help`. Error messages never repeat the value: a mistyped URL may
carry a secret someone pasted into it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, quote, unquote, urlsplit

Addressing = Literal["path", "virtual", "auto"]

# S3's own bucket rules (3-63 characters, lower-case letters, digits, dots and hyphens, alphanumeric at both
# ends): a name AWS refuses is refused here, at start, not at the first upload.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_LOCAL_HOSTS = ("", "localhost")
_ADDRESSING: dict[str, Addressing] = {"path": "path", "virtual": "virtual", "auto": "auto"}


@dataclass(frozen=True, slots=True)
class FileLocation:
    """A directory on this machine (or a volume every gateway and worker mounts at the same path)."""

    root: Path

    @property
    def url(self) -> str:
        return "file://" + quote(str(self.root))


@dataclass(frozen=True, slots=True)
class S3Location:
    """A bucket and key prefix of an S3-compatible store; endpoint, region and keys come from the AWS
    variables, never from this URL."""

    bucket: str
    prefix: str = ""
    # Path-style (`endpoint/bucket/key`) by default: every S3-compatible server (SeaweedFS, MinIO, Ceph,
    # GCS interoperability) and AWS itself answer it, while virtual-hosted names need DNS for each bucket.
    addressing: Addressing = "path"

    @property
    def url(self) -> str:
        base = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return base if self.addressing == "path" else f"{base}?addressing={self.addressing}"


def parse_storage_url(value: str, *, cwd: Path | None = None) -> FileLocation | S3Location:
    """`file:///abs/path`, `file://./relative` (to `cwd`), or `s3://bucket[/prefix][?addressing=...]`.

    Raises ValueError with a message that names what is wrong but not the value itself.
    """
    text = value.strip()
    if not text:
        raise ValueError("is empty: give file:///path or s3://bucket/prefix")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return _file_location(parts.netloc, parts.path, parts.query or parts.fragment, cwd)
    if scheme == "s3":
        return _s3_location(parts.netloc, parts.path, parts.query, parts.fragment)
    raise ValueError("must start with file:// or s3://")


def _file_location(host: str, raw_path: str, extra: str, cwd: Path | None) -> FileLocation:
    if extra:
        raise ValueError("a file:// URL takes no query or fragment")
    path = unquote(raw_path)
    if host in (".", ".."):  # file://./outputs: relative to the working directory
        path = host + path
    elif host not in _LOCAL_HOSTS:
        raise ValueError("a file:// URL names a local directory: no remote host (use file:///path)")
    if not path or "\x00" in path:
        raise ValueError("a file:// URL needs a directory path")
    absolute = Path(os.path.abspath(Path(cwd or Path.cwd()) / path))
    if absolute == Path(absolute.anchor):
        raise ValueError("the store cannot be the root directory itself")
    return FileLocation(absolute)


def _s3_location(netloc: str, raw_path: str, query: str, fragment: str) -> S3Location:
    if "@" in netloc:
        raise ValueError(
            "credentials do not belong in the URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if ":" in netloc:
        raise ValueError("s3://bucket/prefix names a bucket, not a host: set AWS_ENDPOINT_URL_S3 for one")
    if not _BUCKET.match(netloc) or ".." in netloc:
        raise ValueError("the bucket name must be 3-63 lower-case letters, digits, dots or hyphens")
    if fragment:
        raise ValueError("an s3:// URL takes no fragment")
    segments = [s for s in unquote(raw_path).split("/") if s]
    if any(s in (".", "..") or not s.isprintable() for s in segments):
        raise ValueError("the key prefix may not contain '.', '..' or control characters")
    options = parse_qs(query, keep_blank_values=True, strict_parsing=False)
    if set(options) - {"addressing"}:
        raise ValueError("the only option of an s3:// URL is ?addressing=path|virtual|auto")
    addressing = _ADDRESSING.get((options.get("addressing") or ["path"])[-1])
    if addressing is None:
        raise ValueError("addressing must be path, virtual or auto")
    return S3Location(netloc, "/".join(segments), addressing)
