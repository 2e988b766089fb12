"""Redis high availability: the primary is killed while generations are in flight, the sentinels promote
the replica, and every generation still succeeds, none sent to Firefly twice."""

from __future__ import annotations

import collections
import json
import time
from pathlib import Path

import httpx
import pytest

from emulator.seed import ROUTER_MODEL_ID
from tests.redis_ha import MASTER_NAME, PASSWORD, redis_ha
from tests.stack import running_stack

pytestmark = pytest.mark.slow  # `make test-slow`, a step of its own in CI (see the README)

JOBS = 24
DB = 3  # not 0: the database in FFGATE_REDIS_URL is the one used through the sentinels too
TERMINAL = {"succeeded", "failed", "canceled"}
POST_DELAY_S = 3.0


def test_generations_in_flight_survive_a_failover_of_the_redis_primary(workdir: Path) -> None:
    with redis_ha(workdir / "redis") as ha:
        primary = ha.primary_client(DB)
        env = {
            # The host is the sentinels' to name; the URL gives the password and the database.
            "FFGATE_REDIS_URL": f"redis://:{PASSWORD}@named-by-sentinels/{DB}",
            "FFGATE_REDIS_SENTINELS": ha.sentinels_env,
            "FFGATE_REDIS_SENTINEL_MASTER": MASTER_NAME,
            # Two submits a second, jobs of 4 s: when the primary dies some jobs are still queued, some
            # at Firefly, some being polled.
            "FFGATE_UPSTREAM_RPM": "120",
            "FFGATE_EMULATOR_JOB_LATENCY_S": "4",
        }
        stack_dir = workdir / "stack"
        stack_dir.mkdir()
        with running_stack(stack_dir, workers=2, redis_client=primary, **env) as stack:
            url = stack.gateways["gateway"]
            headers = {"Authorization": f"Bearer {stack.env['FFGATE_ADMIN_KEY']}"}

            def submit(prompt: str) -> str:
                body = {"prompt": prompt, "customModelId": ROUTER_MODEL_ID}
                response = httpx.post(f"{url}/v1/generations", json=body, headers=headers, timeout=30)
                assert response.status_code == 202, response.text
                gen_id: str = response.json()["id"]
                return gen_id

            ids = [submit(f"router number {i} on a volcano") for i in range(JOBS)]
            assert primary.exists(f"ffgate:gen:{ids[0]}")  # written to database DB of the primary

            ha.wait_until(lambda: stack.emu_stats()["jobs"] >= JOBS // 4, 30, "the first submits")
            # Firefly answers the next submits late: the primary dies while they are on the wire, so their
            # answers must be recorded while (or after) the sentinels fail it over.
            with stack.emulator() as emu:
                fault = {"endpoint": "generate", "status": None, "delayS": POST_DELAY_S, "durationS": 4}
                emu.post("/_emulator/faults", json=fault).raise_for_status()
            time.sleep(1.2)
            before = ha.primary_address()
            ha.kill_primary()
            killed_at, killed_wall = time.monotonic(), time.time()
            ha.wait_until(lambda: ha.primary_address() != before, 30, "the sentinels to promote the replica")
            failover_s = time.monotonic() - killed_at
            assert ha.primary_address() == ("127.0.0.1", ha.replica_port)

            # Every generation that was in flight finishes, and finishes well.
            statuses: dict[str, dict[str, object]] = {}
            answers: collections.Counter[int] = collections.Counter()
            deadline = time.monotonic() + 120
            with stack.client() as client:
                while len(statuses) < JOBS and time.monotonic() < deadline:
                    for gen_id in ids:
                        if gen_id in statuses:
                            continue
                        response = client.get(f"/v1/generations/{gen_id}")
                        answers[response.status_code] += 1
                        if response.status_code == 200 and response.json()["status"] in TERMINAL:
                            statuses[gen_id] = response.json()
                    time.sleep(0.3)
            unfinished = [i for i in ids if i not in statuses]
            assert not unfinished, (unfinished, stack.all_logs()[-6000:])
            failed = {i: body for i, body in statuses.items() if body["status"] != "succeeded"}
            assert not failed, failed
            assert set(answers) == {200}, answers  # reads were never refused meanwhile

            # The new primary takes new work too.
            after = submit("a router after the failover")
            with stack.client() as client:
                body = client.get(f"/v1/generations/{after}", params={"wait": 30, "since": "queued"}).json()
                while body["status"] not in TERMINAL:
                    body = client.get(f"/v1/generations/{after}", params={"wait": 30}).json()
            assert body["status"] == "succeeded", body

            # Firefly saw each generation exactly once.
            with stack.emulator() as emu:
                jobs = emu.get("/_emulator/jobs").json()
            per_prompt = collections.Counter(job["prompt"] for job in jobs)
            assert len(per_prompt) == JOBS + 1, per_prompt
            assert set(per_prompt.values()) == {1}, per_prompt
            generate_calls = [r for r in stack.emu_requests() if r["endpoint"] == "generate"]
            assert len(generate_calls) == JOBS + 1, generate_calls
            on_the_wire = [r for r in generate_calls if killed_wall - POST_DELAY_S < r["at"] < killed_wall]
            assert on_the_wire, generate_calls  # the case the test is for did happen

            # ...and the failover never reached ffgate's code: no error, no lost subscription, in any line.
            for name in ("gateway", "worker-1", "worker-2"):
                lines = [json.loads(line) for line in stack.log(name).splitlines()]
                troubles = [line for line in lines if line["level"] not in ("DEBUG", "INFO")]
                assert not troubles, (name, troubles)

            for name in stack.children:
                assert stack.children[name].proc.poll() is None, f"{name} died:\n{stack.log(name)[-3000:]}"
            assert failover_s < 20, failover_s
