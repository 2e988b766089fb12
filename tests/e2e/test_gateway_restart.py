"""A gateway's SIGTERM that its clients do not notice (issue 11, item 2): /readyz says 503 first, every
long-poll is answered 200 with the current state, every event stream ends cleanly after a `retry:` hint
and resumes from `Last-Event-ID` on another gateway with nothing lost."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from emulator.seed import ROUTER_MODEL_ID
from tests.stack import ADMIN_KEY, running_stack

LONG_POLLS = 100
STREAMS = 50
DRAIN_S = 2.0
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def read_stream(
    http: httpx.Client,
    url: str,
    gen_id: str,
    last_event_id: str | None = None,
    opened: threading.Semaphore | None = None,
) -> dict[str, Any]:
    """The events of one stream (id, event), whether it saw `retry:`, and how it ended; `opened` is released
    at its first event (the stream is in place)."""
    headers = AUTH | ({"Last-Event-ID": last_event_id} if last_event_id else {})
    events: list[tuple[str, str]] = []
    retry = False
    event_id = event = ""
    with http.stream("GET", f"{url}/v1/generations/{gen_id}/events", headers=headers) as r:
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
                if opened is not None and len(events) == 1:
                    opened.release()
    return {"events": events, "retry": retry}


def long_poll(http: httpx.Client, url: str, gen_id: str) -> tuple[httpx.Response, float]:
    """A wait held until the job leaves `running` (30 s at most): the answer and when it came."""
    response = http.get(f"{url}/v1/generations/{gen_id}", params={"wait": 30, "since": "running"})
    return response, time.monotonic()


def wait_running(http: httpx.Client, url: str, ids: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for gen_id in ids:
        while (status := http.get(f"{url}/v1/generations/{gen_id}").json()["status"]) != "running":
            assert time.monotonic() < deadline, (gen_id, status)
            time.sleep(0.2)


def test_sigterm_answers_every_wait_and_ends_every_stream_cleanly(workdir: Path) -> None:
    # Jobs run 30 s at Firefly: every wait and stream is still open, on a busy machine, when the stop comes.
    env = {"FFGATE_GATEWAY_DRAIN_S": str(DRAIN_S), "FFGATE_EMULATOR_JOB_LATENCY_S": "30"}
    limits = httpx.Limits(max_connections=LONG_POLLS + STREAMS + 10)
    with (
        running_stack(workdir, gateways=2, **env) as stack,
        httpx.Client(headers=AUTH, timeout=60, limits=limits) as http,
    ):
        old, new = stack.gateways["gateway"], stack.gateways["gateway-2"]
        body = {"customModelId": ROUTER_MODEL_ID, "prompt": "a router at night"}
        ids = [http.post(f"{new}/v1/generations", json=body).json()["id"] for _ in range(STREAMS)]
        wait_running(http, new, ids, 30)
        opened = threading.Semaphore(0)
        with ThreadPoolExecutor(LONG_POLLS + STREAMS) as pool:
            polls = [pool.submit(long_poll, http, old, ids[i % STREAMS]) for i in range(LONG_POLLS)]
            streams = [pool.submit(read_stream, http, old, gen_id, None, opened) for gen_id in ids]
            for _ in ids:
                assert opened.acquire(timeout=20), "not every stream opened within 20 s"
            time.sleep(1.0)  # the waits, sent at the same time as the streams, are held too
            assert not any(p.done() for p in polls), "a wait was answered before the stop"
            signalled = time.monotonic()
            stack.children["gateway"].proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert http.get(f"{old}/readyz").status_code == 503  # draining: the balancer looks elsewhere
            assert http.get(f"{old}/v1/generations").status_code == 200  # still serving
            answers = [p.result(timeout=30) for p in polls]
            ended = [s.result(timeout=30) for s in streams]
        answered_after = time.monotonic() - signalled
        assert stack.children["gateway"].proc.wait(timeout=30) == 0

        assert [a.status_code for a, _ in answers] == [200] * LONG_POLLS
        assert all(a.json()["status"] == "running" for a, _ in answers)
        assert all(a.headers["x-request-id"] for a, _ in answers)
        # each wait was held through the drain, and answered when it ended
        assert all(DRAIN_S - 0.1 <= at - signalled < DRAIN_S + 10 for _, at in answers)
        assert DRAIN_S <= answered_after < DRAIN_S + 10
        assert all(s["retry"] and s["events"] for s in ended)
        # Each stream resumes on the other gateway from the last id it saw, and gets to the end.
        with ThreadPoolExecutor(STREAMS) as pool:
            resumed = list(
                pool.map(
                    lambda pair: read_stream(http, new, pair[0], pair[1]["events"][-1][0]),
                    zip(ids, ended, strict=True),
                )
            )
        for before, after in zip(ended, resumed, strict=True):
            last_id = before["events"][-1][0]
            assert all(int(i) > int(last_id) for i, _ in after["events"]), (before, after)
            assert after["events"][-1][1] == "succeeded"
        log = stack.log("gateway")
        assert "Traceback" not in log and "ERROR" not in log, log[-3000:]
