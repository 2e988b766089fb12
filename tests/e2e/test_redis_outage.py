"""Redis away for 10 s, stopped or frozen (issue 11, item 1), on a redis-server of the test's own: every
generation accepted before the outage succeeds and none is sent twice; every client call meanwhile is a
503 problem with Retry-After within 2 s, on a connection that stays usable; the outage is logged once, by the
gateway and by the worker."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from emulator.seed import ROUTER_MODEL_ID
from tests.e2e.test_contract import assert_problem
from tests.own_redis import OwnRedis
from tests.stack import running_stack, wait_terminal

pytestmark = pytest.mark.slow  # `make test-slow`, a step of its own in CI (see the README)

OUTAGE_S = 10
JOBS = 12


@pytest.mark.parametrize("how", ["stopped", "frozen"])
def test_a_10s_redis_outage_loses_nothing_and_clients_get_prompt_503s(workdir: Path, how: str) -> None:
    own = OwnRedis(workdir)
    own.start()
    try:
        with running_stack(
            workdir, redis_client=own.client(), FFGATE_REDIS_URL=own.url, FFGATE_SUBMIT_CONCURRENCY="16"
        ) as stack:
            with stack.emulator() as emu:  # generate-async answers in about a second, as Firefly's does
                fault = {"endpoint": "generate", "status": None, "delayS": 1.0}
                assert emu.post("/_emulator/faults", json=fault).status_code == 200
            body = {"customModelId": ROUTER_MODEL_ID, "prompt": "a router in the rain"}
            with stack.client() as client:
                ids = [client.post("/v1/generations", json=body).json()["id"] for _ in range(JOBS)]
                time.sleep(0.5)  # submits in flight: Firefly answers them during the outage
                own.stop() if how == "stopped" else own.freeze()
                ends = time.monotonic() + OUTAGE_S
                took: list[float] = []
                while time.monotonic() < ends:
                    for call in (
                        lambda: client.get(f"/v1/generations/{ids[0]}"),
                        lambda: client.post("/v1/generations", json=body),
                        lambda: client.get("/v1/generations"),
                    ):
                        started = time.monotonic()
                        response = call()
                        took.append(time.monotonic() - started)
                        assert_problem(response, 503)
                        assert int(response.headers["retry-after"]) >= 1
                        assert response.headers.get("connection", "keep-alive") != "close"
                    time.sleep(0.3)
                own.start() if how == "stopped" else own.thaw()
                assert max(took) < 2.0, sorted(took)[-5:]
                # The same client, on the same keep-alive connection pool, goes on as if nothing happened.
                assert client.get(f"/v1/generations/{ids[0]}").status_code == 200
                done = [wait_terminal(client, gen_id, 120) for gen_id in ids]
            assert [d["status"] for d in done] == ["succeeded"] * JOBS, [d["error"] for d in done]
            sent = Counter(r["requestId"] for r in stack.emu_requests() if r["endpoint"] == "generate")
            assert max(sent.values()) == 1, sent  # none sent twice
            gateway_log = stack.log("gateway")
            assert "Traceback" not in gateway_log, gateway_log[-3000:]
            assert gateway_log.count("Redis is unavailable") == 1, gateway_log[-3000:]
            # The worker rides a stop out inside redis-py's retries; a freeze times its loops out: either
            # way no traceback per loop turn, and an outage it met is told once each way.
            worker_log = stack.log("worker-1")
            assert "Traceback" not in worker_log, worker_log[-3000:]
            told = worker_log.count("Redis is unavailable")
            assert (told == 1) if how == "frozen" else (told <= 1), worker_log[-3000:]
            assert worker_log.count("Redis answers again") == told, worker_log[-3000:]
    finally:
        own.stop()
