"""Separate lanes (issue 11, item 3): status calls that take 20 s hold the status lane only; new
generations still reach Firefly within a second."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from emulator.seed import ROUTER_MODEL_ID
from tests.stack import running_stack, wait_terminal

pytestmark = pytest.mark.slow  # `make test-slow`, a step of its own in CI (see the README)

POLL_SLOTS = 4


def test_status_calls_delayed_20s_do_not_delay_submits(workdir: Path) -> None:
    env = {
        "FFGATE_POLL_CONCURRENCY": str(POLL_SLOTS),
        "FFGATE_SUBMIT_CONCURRENCY": "4",
        "FFGATE_STATUS_TIMEOUT_S": "30",  # a status call holds its slot the whole 20 s
        "FFGATE_EMULATOR_JOB_LATENCY_S": "0.5",
    }
    with running_stack(workdir, **env) as stack:
        with stack.emulator() as emu:
            fault = {"endpoint": "status", "status": None, "delayS": 20, "durationS": 8}
            assert emu.post("/_emulator/faults", json=fault).status_code == 200
        body = {"customModelId": ROUTER_MODEL_ID, "prompt": "a router"}
        with stack.client() as client:
            # Enough jobs to fill every status slot with a 20 s call (status calls are logged by the
            # emulator once answered: their submits are, at once)...
            first = [client.post("/v1/generations", json=body).json()["id"] for _ in range(POLL_SLOTS + 2)]
            deadline = time.monotonic() + 10
            while sum(r["endpoint"] == "generate" for r in stack.emu_requests()) < len(first):
                assert time.monotonic() < deadline, "the first jobs were never submitted"
                time.sleep(0.1)
            time.sleep(1.0)  # their first status calls (0.3 s after submit) now hang
            # ...then new ones, while those status calls hang.
            posted: dict[str, float] = {}
            for i in range(5):
                request_id = f"lanes-fast-{i}"
                posted[request_id] = time.time()
                response = client.post("/v1/generations", json=body, headers={"X-Request-ID": request_id})
                assert response.status_code == 202
                time.sleep(0.3)
            time.sleep(1.5)
            generates = {r["requestId"]: r["at"] for r in stack.emu_requests() if r["endpoint"] == "generate"}
            assert not any(r["endpoint"] == "status" for r in stack.emu_requests())  # all still hanging
            lags = {rid: generates[rid] - at for rid, at in posted.items() if rid in generates}
            assert lags.keys() == posted.keys(), (posted, generates)
            assert max(lags.values()) < 1.0, lags
            done = [wait_terminal(client, gen_id, 90)["status"] for gen_id in first]
        assert done == ["succeeded"] * len(first)
