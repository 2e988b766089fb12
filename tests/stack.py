"""A whole ffgate stack of real processes on loopback (emulator, gateways, workers) over a real Redis, for
end-to-end tests and benchmarks. Every process is started here and ended here, by its pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import redis

from ffgate.cli.processes import Child, stop_children
from tests.redis_db import REDIS_HOST

ADMIN_KEY = "ffk_test_admin_key_0123456789"
CLIENT_ID = "ffgate-emulator-client"
CLIENT_SECRET = "ffgate-emulator-secret-for-tests-only"
TEST_DBS = list(range(9, 16))
OWNER_KEY = "ffgate-test:owner"  # held in the database itself, so concurrent test runs never share one


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def base_env(db: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FFGATE_")}
    env.update(
        {
            "FFGATE_REDIS_URL": f"redis://{REDIS_HOST}/{db}",
            "FFGATE_ADMIN_KEY": ADMIN_KEY,
            "FFGATE_ADOBE_CLIENT_ID": CLIENT_ID,
            "FFGATE_ADOBE_CLIENT_SECRET": CLIENT_SECRET,
            "FFGATE_EMULATOR_CLIENT_ID": CLIENT_ID,
            "FFGATE_EMULATOR_CLIENT_SECRET": CLIENT_SECRET,
            "FFGATE_EMULATOR_RPM": "0",
            "FFGATE_EMULATOR_RPD": "0",
            "FFGATE_UPSTREAM_RPM": "0",
            "FFGATE_UPSTREAM_RPD": "0",
            "FFGATE_EMULATOR_JOB_LATENCY_S": "1.0",
            # No FFGATE_EMULATOR_IMAGE_MAX_SIDE: outputs are drawn at the size asked, as Firefly's are.
            "FFGATE_POLL_FIRST_S": "0.3",
            "FFGATE_POLL_INTERVAL_S": "0.5",
            "FFGATE_POLL_TAIL_S": "0.3",
            "FFGATE_POLL_MAX_INTERVAL_S": "2",
            "FFGATE_SUBMIT_RETRY_BASE_S": "0.5",
            "FFGATE_MAINTENANCE_INTERVAL_S": "5",
            "FFGATE_UPSTREAM_TIMEOUT_S": "5",
            "FFGATE_LOG_LEVEL": "INFO",
            # A stack's gateways stop in about a second, not after the 5 s a load balancer needs to see
            # /readyz go 503 (tests/e2e/test_gateway_restart.py sets its own drain).
            "FFGATE_GATEWAY_DRAIN_S": "0.5",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _claim_database() -> tuple[int, redis.Redis]:
    owner = f"{os.getpid()}-{time.time()}"
    for db in TEST_DBS:
        client = redis.Redis.from_url(f"redis://{REDIS_HOST}/{db}")
        if client.set(OWNER_KEY, owner, nx=True, ex=3600):
            client.flushdb()
            client.set(OWNER_KEY, owner, ex=3600)
            return db, client
        client.close()
    raise RuntimeError(f"every test Redis database ({TEST_DBS}) is in use")


class Stack:
    def __init__(self, workdir: Path, redis_client: redis.Redis | None = None, **env: str) -> None:
        """`redis_client`: the Redis that `env` points the processes at (e.g. through Sentinel), which the
        stack then empties when it closes; by default a database of the test Redis, claimed for the stack."""
        if redis_client is None:
            self.db, self.redis = _claim_database()
        else:
            self.db, self.redis = (
                int(redis_client.connection_pool.connection_kwargs.get("db", 0)),
                redis_client,
            )
        self.workdir = workdir
        self.env = base_env(self.db) | {"FFGATE_STORAGE_URL": f"file://{workdir}/outputs"} | env
        self.children: dict[str, Child] = {}
        self.logs: dict[str, Path] = {}
        self.emulator_url = ""
        self.gateways: dict[str, str] = {}
        self.issued_secrets: list[str] = []  # every API key and webhook secret handed out, to look for later

    # --- processes ------------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> Child:
        log = self.workdir / f"{name}.log"
        self.logs[name] = log
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ffgate", *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        child = Child(name, proc)
        self.children[name] = child
        return child

    def start_emulator(self, *, public_host: str | None = None, **env: str) -> str:
        """`public_host`: put status/cancel/image URLs on this host instead (as Firefly's regional hosts)."""
        port = free_port()
        self.emulator_url = f"http://127.0.0.1:{port}"
        if public_host:
            env["FFGATE_EMULATOR_PUBLIC_URL"] = f"http://{public_host}:{port}"
        self.env |= {"FFGATE_FIREFLY_URL": self.emulator_url, "FFGATE_IMS_URL": self.emulator_url}
        self._spawn("emulator", ["emulator", "--port", str(port)], self.env | env)
        self._wait_http("emulator", f"{self.emulator_url}/_emulator/stats")
        return self.emulator_url

    def start_gateway(self, name: str = "gateway", *, options: Sequence[str] = (), **env: str) -> str:
        """`options`: more of `ffgate serve`'s, e.g. `("--workers", "2")`."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        self._spawn(name, ["serve", "--port", str(port), *options], self.env | env)
        self._wait_http(name, f"{url}/healthz")
        self.gateways[name] = url
        return url

    def start_worker(self, name: str = "worker", **env: str) -> Child:
        child = self._spawn(name, ["worker"], self.env | env)
        # Ready once RQ has registered it for the queue (its name ends with its pid).
        deadline = time.monotonic() + 30
        suffix = f"-{child.pid}".encode()
        while not any(w.endswith(suffix) for w in self.redis.smembers("rq:workers:ffgate")):
            self._check_alive(name)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} never registered with RQ:\n{self.log(name)[-3000:]}")
            time.sleep(0.1)
        return child

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        child = self.children[name]
        if child.proc.poll() is None:
            if sig == signal.SIGKILL:
                # The whole process group, as a dead host or container takes it: a worker forks RQ's
                # scheduler, which a SIGKILL of the worker's pid alone would leave running, orphaned.
                os.killpg(child.pid, sig)
            else:
                child.proc.send_signal(sig)
            child.proc.wait(timeout=30)

    def close(self) -> None:
        stop_children(list(self.children.values()), grace_s=10)
        with contextlib.suppress(redis.RedisError):
            self.redis.flushdb()  # also drops the ownership key
        self.redis.close()

    def _wait_http(self, name: str, url: str, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive(name)
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{name} did not answer at {url}:\n{self.log(name)[-3000:]}")

    def _check_alive(self, name: str) -> None:
        code = self.children[name].proc.poll()
        if code is not None:
            raise RuntimeError(f"{name} exited with {code}:\n{self.log(name)[-3000:]}")

    def log(self, name: str) -> str:
        path = self.logs.get(name)
        return path.read_text(errors="replace") if path and path.exists() else ""

    def all_logs(self) -> str:
        return "\n".join(self.log(name) for name in self.logs)

    # --- clients --------------------------------------------------------------------------------

    def client(self, gateway: str = "gateway", key: str = ADMIN_KEY) -> httpx.Client:
        return httpx.Client(
            base_url=self.gateways[gateway], headers={"Authorization": f"Bearer {key}"}, timeout=70
        )

    def create_client(self, gateway: str = "gateway", **spec: Any) -> tuple[str, str]:
        """A new API client made through the admin API: (its id, its API key)."""
        with self.client(gateway) as admin:
            response = admin.post("/v1/admin/clients", json={"name": "test-client", **spec})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        self.issued_secrets += [body["apiKey"], body["webhookSecret"]]
        return body["id"], body["apiKey"]

    def emulator(self) -> httpx.Client:
        return httpx.Client(base_url=self.emulator_url, timeout=30)

    def emu_stats(self) -> dict[str, Any]:
        with self.emulator() as emu:
            stats: dict[str, Any] = emu.get("/_emulator/stats").json()
            return stats

    def emu_requests(self) -> list[dict[str, Any]]:
        with self.emulator() as emu:
            items: list[dict[str, Any]] = emu.get("/_emulator/requests", params={"since": 0}).json()["items"]
            return items


@contextmanager
def running_stack(
    workdir: Path, *, workers: int = 1, gateways: int = 1, redis_client: redis.Redis | None = None, **env: str
) -> Iterator[Stack]:
    stack = Stack(workdir, redis_client, **env)
    try:
        stack.start_emulator()
        for i in range(gateways):
            stack.start_gateway("gateway" if i == 0 else f"gateway-{i + 1}")
        for i in range(workers):
            stack.start_worker(f"worker-{i + 1}")
        yield stack
    finally:
        stack.close()


def wait_terminal(client: httpx.Client, gen_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        body: dict[str, Any] = client.get(f"/v1/generations/{gen_id}", params={"wait": 10}).json()
        if body["status"] in ("succeeded", "failed", "canceled"):
            return body
        if time.monotonic() > deadline:
            raise TimeoutError(f"{gen_id} still {body['status']}")
