"""`ffgate serve --workers N`: N processes on one port, and /metrics counts what all of them answered."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.stack import Stack

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
