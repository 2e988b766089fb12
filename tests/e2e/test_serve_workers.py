"""`ffgate serve --workers N`: N processes on one port, /metrics counts what all of them answered, and a
SIGTERM drains every process as a single gateway's does (tests/e2e/test_gateway_restart.py)."""

from __future__ import annotations

import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from emulator.seed import ROUTER_MODEL_ID
from tests.stack import ADMIN_KEY, Stack

pytestmark = pytest.mark.e2e
REQUESTS = 60


def healthz_count(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = re.search(r'ffgate_http_request_duration_seconds_count\{[^}]*route="/healthz"[^}]*\} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def test_metrics_add_up_over_every_gateway_process(workdir: Path) -> None:
    folder = workdir / "metrics"
    folder.mkdir()
    stack = Stack(workdir, PROMETHEUS_MULTIPROC_DIR=str(folder))
    try:
        stack.start_emulator()
        url = stack.start_gateway(options=("--workers", "2"))
        for _ in range(REQUESTS):  # a new connection each: the kernel hands them to either process
            with httpx.Client() as fresh:
                assert fresh.get(f"{url}/healthz").status_code == 200
        answered_by = {p.stem.rpartition("_")[2] for p in folder.glob("histogram_*.db")}
        assert len(answered_by) == 2, answered_by  # both processes answered some
        # Whichever process answers the scrape, it reports every process's requests (+1: the first probe).
        counts = {healthz_count(url) for _ in range(10)}
        assert counts == {REQUESTS + 1}, counts
    finally:
        stack.close()


def test_sigterm_drains_every_gateway_process(workdir: Path) -> None:
    drain_s = 5.0  # room for 20 fresh connections on a busy machine before the waits are answered
    env = {"FFGATE_GATEWAY_DRAIN_S": str(drain_s), "FFGATE_EMULATOR_JOB_LATENCY_S": "30"}
    stack = Stack(workdir, **env)
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    try:
        stack.start_emulator()
        url = stack.start_gateway(options=("--workers", "2"))
        stack.start_worker()
        body = {"customModelId": ROUTER_MODEL_ID, "prompt": "a router at dawn"}
        gen_id = httpx.post(f"{url}/v1/generations", json=body, headers=auth).json()["id"]
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/v1/generations/{gen_id}", headers=auth).json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.2)

        def long_poll(_: int) -> tuple[httpx.Response, float]:
            # a connection each: the kernel hands them to either process
            params = {"wait": 30, "since": "running"}
            response = httpx.get(f"{url}/v1/generations/{gen_id}", params=params, headers=auth, timeout=60)
            return response, time.monotonic()

        with ThreadPoolExecutor(20) as pool:
            polls = [pool.submit(long_poll, i) for i in range(20)]
            time.sleep(2.0)
            assert not any(p.done() for p in polls)
            signalled = time.monotonic()
            stack.children["gateway"].proc.send_signal(
                signal.SIGTERM
            )  # the supervisor, as an orchestrator would
            time.sleep(0.5)
            # every process drains: new connections, to either one, hear 503 from /readyz and 200 elsewhere
            assert {httpx.get(f"{url}/readyz").status_code for _ in range(10)} == {503}
            assert {httpx.get(f"{url}/healthz").status_code for _ in range(10)} == {200}
            assert time.monotonic() - signalled < drain_s  # (all of it within the drain)
            answers = [p.result(timeout=30) for p in polls]
        assert stack.children["gateway"].proc.wait(timeout=30) == 0

        assert [a.status_code for a, _ in answers] == [200] * len(answers)
        assert all(a.json()["status"] == "running" for a, _ in answers)
        assert all(drain_s - 0.1 <= at - signalled < drain_s + 10 for _, at in answers)
        log = stack.log("gateway")
        assert "Traceback" not in log and "ERROR" not in log, log[-3000:]
        assert log.count("stopping: /readyz answers 503") == 2, log[-3000:]  # once per process
    finally:
        stack.close()
