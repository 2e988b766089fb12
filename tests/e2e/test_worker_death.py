"""A worker killed with SIGKILL mid-flight loses nothing and makes Firefly do nothing twice."""

from __future__ import annotations

import collections
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from emulator.seed import ROUTER_MODEL_ID
from tests.stack import running_stack

pytestmark = pytest.mark.slow  # `make test-slow`, a step of its own in CI (see the README)

JOBS = 200
TERMINAL = {"succeeded", "failed", "canceled"}


def test_sigkill_of_one_worker_with_200_jobs_in_flight(workdir: Path) -> None:
    env = {"FFGATE_EMULATOR_JOB_LATENCY_S": "3", "FFGATE_POLL_LEASE_S": "5"}
    with running_stack(workdir, workers=2, **env) as stack:
        url = stack.gateways["gateway"]
        headers = {"Authorization": f"Bearer {stack.env['FFGATE_ADMIN_KEY']}"}

        def submit(i: int) -> str:
            body = {"prompt": f"router number {i}", "customModelId": ROUTER_MODEL_ID}
            response = httpx.post(f"{url}/v1/generations", json=body, headers=headers, timeout=30)
            assert response.status_code == 202, response.text
            gen_id: str = response.json()["id"]
            return gen_id

        with ThreadPoolExecutor(max_workers=16) as pool:
            ids = list(pool.map(submit, range(JOBS)))
        # Kill one worker while jobs are being submitted and polled.
        deadline = time.monotonic() + 20
        while stack.emu_stats()["jobs"] < JOBS // 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        stack.kill("worker-1")
        in_flight = stack.emu_stats()["inFlight"]

        # RQ hands a dead worker's job back once its heartbeat lapses (70 s); allow for that.
        statuses: dict[str, str] = {}
        deadline = time.monotonic() + 180
        with stack.client() as client:
            while len(statuses) < JOBS and time.monotonic() < deadline:
                for gen_id in ids:
                    if gen_id not in statuses:
                        body = client.get(f"/v1/generations/{gen_id}").json()
                        if body["status"] in TERMINAL:
                            statuses[gen_id] = body["status"]
                            if body["status"] == "failed":
                                # Only a job whose POST was cut off may fail, and it says so.
                                assert body["error"]["code"] == "upstream_outcome_unknown", body
                time.sleep(0.5)
        stuck = [stack.redis.hgetall(f"ffgate:gen:{i}") for i in ids if i not in statuses]
        assert not stuck, stuck
        assert in_flight > 0
        counts = collections.Counter(statuses.values())
        # Only POSTs cut off mid-flight may fail (as `upstream_outcome_unknown`, checked above): at most
        # what one worker sends at once.
        assert counts["succeeded"] + counts["failed"] == JOBS
        assert counts["failed"] <= 32, counts

        with stack.emulator() as emu:
            jobs = emu.get("/_emulator/jobs").json()
        per_prompt = collections.Counter(j["prompt"] for j in jobs)
        assert max(per_prompt.values()) == 1  # nothing submitted upstream twice
        assert counts["succeeded"] <= len(jobs) <= JOBS
