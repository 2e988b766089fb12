"""A gateway's SIGTERM that its clients do not notice (issue 11, item 2): /readyz says 503 first, every
long-poll is answered 200 with the current state, every event stream ends cleanly after a `retry:` hint
and resumes from `Last-Event-ID` on another gateway with nothing lost."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from emulator.seed import ROUTER_MODEL_ID
from tests.stack import ADMIN_KEY, running_stack

LONG_POLLS = 40
STREAMS = 20
DRAIN_S = 2.0
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def read_stream(url: str, gen_id: str, last_event_id: str | None = None) -> dict[str, Any]:
    """The events of one stream (id, event), whether it saw `retry:`, and how it ended."""
    headers = AUTH | ({"Last-Event-ID": last_event_id} if last_event_id else {})
    events: list[tuple[str, str]] = []
    retry = False
    event_id = event = ""
    with httpx.stream("GET", f"{url}/v1/generations/{gen_id}/events", headers=headers, timeout=60) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("retry: "):
                retry = True
            elif line == "" and event:
                events.append((event_id, event))
                event = ""
    return {"events": events, "retry": retry}


def test_sigterm_answers_every_wait_and_ends_every_stream_cleanly(workdir: Path) -> None:
    env = {"FFGATE_GATEWAY_DRAIN_S": str(DRAIN_S), "FFGATE_EMULATOR_JOB_LATENCY_S": "12"}
    with running_stack(workdir, gateways=2, **env) as stack:
        old, new = stack.gateways["gateway"], stack.gateways["gateway-2"]
        body = {"customModelId": ROUTER_MODEL_ID, "prompt": "a router at night"}
        with stack.client("gateway-2") as client:
            ids = [client.post("/v1/generations", json=body).json()["id"] for _ in range(STREAMS)]
        with ThreadPoolExecutor(LONG_POLLS + STREAMS) as pool:
            polls = [
                pool.submit(
                    httpx.get,
                    f"{old}/v1/generations/{ids[i % STREAMS]}",
                    params={"wait": 30, "since": "running"},  # held until terminal, or the stop
                    headers=AUTH,
                    timeout=60,
                )
                for i in range(LONG_POLLS)
            ]
            streams = [pool.submit(read_stream, old, gen_id) for gen_id in ids]
            time.sleep(1.5)  # every wait and stream is open
            signalled = time.monotonic()
            stack.children["gateway"].proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert httpx.get(f"{old}/readyz").status_code == 503  # draining: the balancer looks elsewhere
            assert httpx.get(f"{old}/v1/generations", headers=AUTH).status_code == 200  # still serving
            answers = [p.result(timeout=30) for p in polls]
            ended = [s.result(timeout=30) for s in streams]
        answered_after = time.monotonic() - signalled
        assert stack.children["gateway"].proc.wait(timeout=30) == 0

        assert [a.status_code for a in answers] == [200] * LONG_POLLS
        assert all(a.json()["status"] in ("submitted", "running") for a in answers)
        assert all(a.headers["x-request-id"] for a in answers)
        assert DRAIN_S <= answered_after < DRAIN_S + 10
        assert all(s["retry"] and s["events"] for s in ended)
        # Each stream resumes on the other gateway from the last id it saw, and gets to the end.
        for gen_id, before in zip(ids, ended, strict=True):
            last_id = before["events"][-1][0]
            after = read_stream(new, gen_id, last_id)
            assert all(int(i) > int(last_id) for i, _ in after["events"]), (before, after)
            assert after["events"][-1][1] == "succeeded"
        log = stack.log("gateway")
        assert "Traceback" not in log and "ERROR" not in log, log[-3000:]
