"""Spending the Adobe org's budget: fair shares across clients within the limit, honest ETAs, 429 pauses
and the circuit breaker, with real workers and the emulator enforcing the same limit as Firefly would.

The fairness test queues the jobs of three clients with the admission script (ffgate.generations.admission)
from the
test process, exactly as the gateway does for three keys: the workers, the budget and the emulator are what
is under test there, not the gateway.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from emulator.seed import ROUTER_MODEL_ID
from ffgate.redis.keys import Keys
from tests.admitting import AdmittingStore
from tests.stack import Stack, running_stack, wait_terminal

pytestmark = pytest.mark.slow  # `make test-slow`, a step of its own in CI (see the README)

MINUTE = {"FFGATE_UPSTREAM_RPM": "60", "FFGATE_EMULATOR_RPM": "60"}


def queue_jobs(stack: Stack, jobs: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Queue `(client, prompt)` jobs at once, as the gateway would; {request id: (generation id, client)}."""
    made = {
        uuid.uuid4().hex: (f"gen_test_{i:03d}", client, prompt) for i, (client, prompt) in enumerate(jobs)
    }

    async def create() -> None:
        redis = aioredis.Redis.from_url(stack.env["FFGATE_REDIS_URL"])
        store = AdmittingStore(redis, Keys("ffgate:"), result_ttl_s=3600)
        try:
            await asyncio.gather(
                *(
                    store.create(
                        gen_id=gen_id,
                        client_id=client,
                        request_id=request_id,
                        request={"prompt": prompt, "customModelId": ROUTER_MODEL_ID},
                        metadata=None,
                        warnings=[],
                    )
                    for request_id, (gen_id, client, prompt) in made.items()
                )
            )
        finally:
            await redis.aclose()

    asyncio.run(create())
    return {request_id: (gen_id, client) for request_id, (gen_id, client, _) in made.items()}


def post_jobs(client: httpx.Client, count: int) -> list[str]:
    """POST `count` generations through the gateway; their ids."""
    body = {"customModelId": ROUTER_MODEL_ID}
    return [
        client.post("/v1/generations", json=body | {"prompt": f"router {i}"}).json()["id"]
        for i in range(count)
    ]


def generates(stack: Stack) -> list[dict[str, Any]]:
    return sorted((r for r in stack.emu_requests() if r["endpoint"] == "generate"), key=lambda r: r["at"])


def test_three_clients_share_60_a_minute_fairly_with_honest_etas(workdir: Path) -> None:
    with running_stack(workdir, workers=2, **MINUTE) as stack:
        jobs = [("client-a", f"router a{i}") for i in range(30)]
        jobs += [("client-b", f"router b{i}") for i in range(30)] + [("client-c", "router c0")]
        made = queue_jobs(stack, jobs)
        # What each job was told right away: (read at, position, ETA)
        told: dict[str, tuple[float, int, int]] = {}
        with stack.client() as client:
            for request_id, (gen_id, _) in made.items():
                asked = time.time()
                body = client.get(f"/v1/generations/{gen_id}").json()
                if body["status"] == "queued":
                    told[request_id] = ((asked + time.time()) / 2, *body["queue"].values())
        deadline = time.monotonic() + 90
        while len([r for r in generates(stack) if r["status"] == 202]) < len(made):
            assert time.monotonic() < deadline, "not every job was sent within 90 s"
            time.sleep(1)

        sent = [r for r in generates(stack) if r["status"] == 202]
        assert stack.emu_stats()["responses429"] == 0
        assert len(sent) == len(made) == 61
        times = [r["at"] for r in sent]
        for start in times:  # no 60 s window holds more than the limit...
            assert sum(start <= t < start + 60 for t in times) <= 60
        # ...and while jobs waited, the limit was used (61 sends, 1 s apart: 60 s)
        assert (len(times) - 1) / (times[-1] - times[0]) >= 0.9
        clients = [made[r["requestId"]][1] for r in sent]
        assert clients.index("client-c") <= 2  # the single job went within the first 3 slots
        assert len(told) >= 55  # all but the few sent before they were read
        order = [r["requestId"] for r in sent]
        for request_id, (read_at, position, eta_s) in told.items():
            # the position is how many were still to go before it (give or take a send during the read)
            already = sum(t < read_at for t in times)
            assert abs(already + position - order.index(request_id)) <= 1
            # the ETA held: within 20%, or within the 1 s that `etaSeconds` is rounded to
            actual = times[order.index(request_id)] - read_at
            assert abs(eta_s - actual) <= max(0.2 * actual, 1.0), (position, eta_s, actual)


def test_etas_recover_after_one_clients_burst(workdir: Path) -> None:
    """Thirty jobs from one client at once, then, once they are sent, 12 + 12 + 1 from three others, at
    30/min: every ETA the 202s gave is within 25% (or 5 s) of when the job was sent. The first client's
    burst is over when the others arrive; an arrival model that expects it to go on tells them minutes
    that pass in seconds."""
    # The emulator's own limit is not the one under test: above ffgate's, so no send meets a 429.
    rpm = {"FFGATE_UPSTREAM_RPM": "30", "FFGATE_EMULATOR_RPM": "60"}
    with running_stack(workdir, workers=2, **rpm) as stack:
        keys = {
            name: stack.create_client(name=name, rateLimit={"requestsPerMinute": 600})[1]
            for name in ("burst", "bulk-b", "bulk-c", "single")
        }
        clients = {name: stack.client(key=key) for name, key in keys.items()}
        told: dict[str, tuple[float, int]] = {}  # request id -> (asked at, etaSeconds of the 202)

        def post(name: str, prompt: str) -> None:
            asked = time.time()
            response = clients[name].post(
                "/v1/generations", json={"customModelId": ROUTER_MODEL_ID, "prompt": prompt}
            )
            assert response.status_code == 202, response.text
            body = response.json()
            assert body["status"] == "queued" and body["queue"] is not None, body
            told[response.headers["x-request-id"]] = ((asked + time.time()) / 2, body["queue"]["etaSeconds"])

        try:
            for i in range(30):
                post("burst", f"router burst {i}")
            deadline = time.monotonic() + 90
            while len(sent_at(stack)) < 30:
                assert time.monotonic() < deadline, "the burst was not sent within 90 s"
                time.sleep(0.5)
            later = [("bulk-b", i) for i in range(12)] + [("bulk-c", i) for i in range(12)]
            later = [later[j] for pair in zip(range(12), range(12, 24), strict=True) for j in pair]
            later.insert(12, ("single", 0))  # b, c, b, c, ... with the single job among them
            for name, i in later:
                post(name, f"router {name} {i}")
            deadline = time.monotonic() + 90
            while len(sent_at(stack)) < 55:
                assert time.monotonic() < deadline, "the 25 jobs were not sent within 90 s"
                time.sleep(0.5)
        finally:
            for client in clients.values():
                client.close()

        sent = sent_at(stack)
        assert set(sent) == set(told)
        misses = []
        for request_id, (asked_at, eta_s) in told.items():
            actual = sent[request_id] - asked_at
            if abs(eta_s - actual) > max(0.25 * actual, 5.0):
                misses.append((round(actual, 1), eta_s))
        assert not misses, f"{len(misses)} of {len(told)} ETAs off (actual s, told s): {misses}"
        assert stack.emu_stats()["responses429"] == 0


def sent_at(stack: Stack) -> dict[str, float]:
    """request id -> when Firefly (the emulator) accepted its generate-async."""
    return {r["requestId"]: r["at"] for r in generates(stack) if r["status"] == 202}


def test_a_429_holds_every_worker_for_the_time_firefly_gives(workdir: Path) -> None:
    with running_stack(workdir, workers=2, FFGATE_UPSTREAM_RPM="120") as stack:
        with stack.emulator() as emu:
            fault = {"endpoint": "generate", "status": 429, "count": 1, "retryAfterS": 4}
            assert emu.post("/_emulator/faults", json=fault).status_code == 200
        with stack.client() as client:
            ids = post_jobs(client, 6)
            done = [wait_terminal(client, gen_id, 60)["status"] for gen_id in ids]

        assert done == ["succeeded"] * 6
        calls = generates(stack)
        refused = [r for r in calls if r["status"] == 429]
        assert len(refused) == 1
        after = [r["at"] for r in calls if r["at"] > refused[0]["at"]]
        assert len(after) == 6  # the refused job went again, and no other went twice
        assert min(after) >= refused[0]["at"] + 4  # from either worker


def test_30s_of_503s_open_the_breaker_and_cost_only_the_jobs_they_answered(workdir: Path) -> None:
    """A 503 to generate-async does not prove Firefly made no job, so the job it answered fails as
    `upstream_outcome_unknown` and is never sent again; the breaker keeps every other job queued until
    Firefly is back."""
    env = {
        "FFGATE_UPSTREAM_RPM": "120",
        "FFGATE_BREAKER_FAILURES": "3",
        "FFGATE_BREAKER_COOLDOWN_S": "5",
    }
    with running_stack(workdir, workers=2, **env) as stack:
        url = stack.gateways["gateway"]
        with stack.emulator() as emu:
            fault = {"endpoint": "generate", "status": 503, "durationS": 30}
            assert emu.post("/_emulator/faults", json=fault).status_code == 200
        outage_ends = time.time() + 30
        with stack.client() as client:
            ids = post_jobs(client, 12)
            ready = _readyz_when_degraded(url, 15)
            assert ready.status_code == 200
            assert "Circuit breaker open" in ready.json()["detail"]
            during = client.get(f"/v1/generations/{ids[-1]}").json()
            assert during["status"] == "queued"
            assert during["queue"]["etaSeconds"] >= 1  # held back by the breaker, not sent

            done = [wait_terminal(client, gen_id, 90) for gen_id in ids]

        assert time.time() >= outage_ends
        assert httpx.get(f"{url}/readyz").json() == {"status": "ok"}
        calls = generates(stack)
        failed = [r["at"] for r in calls if r["status"] == 503]
        lost = [d for d in done if d["status"] != "succeeded"]
        assert {(d["status"], d["error"]["code"], d["error"]["retryable"]) for d in lost} == {
            ("failed", "upstream_outcome_unknown", True)
        }
        assert len(lost) == len(failed)  # each 503 cost its own job and no other
        assert len(calls) == 12  # and no job was sent twice
        # 3 failures open it, then one probe per 5 s cool-down: nowhere near one per job per retry
        assert 3 <= len(failed) <= 3 + 30 / 5 + 2
        probes = failed[3:]
        assert all(b - a >= 4.5 for a, b in itertools.pairwise(probes))


def _readyz_when_degraded(url: str, timeout_s: float) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while (response := httpx.get(f"{url}/readyz")).json()["status"] != "degraded":
        assert time.monotonic() < deadline, response.text
        time.sleep(0.2)
    return response


def test_jobs_queued_longer_than_the_maximum_fail_retryably(workdir: Path) -> None:
    env = {"FFGATE_UPSTREAM_RPM": "1", "FFGATE_MAX_QUEUE_S": "3"}
    with running_stack(workdir, **env) as stack, stack.client() as client:
        ids = post_jobs(client, 3)
        done = [wait_terminal(client, gen_id, 30) for gen_id in ids]

        assert sorted(d["status"] for d in done) == ["failed", "failed", "succeeded"]
        for late in (d for d in done if d["status"] == "failed"):
            assert late["error"]["code"] == "queue_timeout"
            assert late["error"]["retryable"] is True
            assert late["upstream"] is None
        assert len(generates(stack)) == 1  # the budget's one request of the minute
