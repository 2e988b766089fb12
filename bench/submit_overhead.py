"""What auth, the per-client rate limit, the daily quota and idempotency cost on the submit path.

Starts the emulator and one gateway (no worker: nothing drains the schedule, so only the submit path runs)
on loopback, creates an API client, and drives `POST /v1/generations` with `wrk` (each request with its own
`Idempotency-Key`). Then it stops the gateway and drives, with the same wrk settings, a bare FastAPI app
(`bench/bare_app.py`) served the same way (one uvicorn process, uvloop, httptools):

  - `/bare/create`: parse the body and run the MULTI that `JobStore.create` ran before this issue (HSET
    record + ZADD schedule), i.e. the same enqueue our route does, without auth, limits, idempotency,
    validation or the per-client index. The target (>= 0.5) is judged against this one.
  - `/bare/rq`: an RQ `Queue.enqueue` of a job with the same payload (for reference: how submits were queued
    before the schedule).

    .venv/bin/python bench/submit_overhead.py [--duration 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.seed import ROUTER_MODEL_ID
from ffgate.processes import Child, stop_children
from tests.stack import free_port, running_stack

BODY = {"prompt": "a white router on a volcano in Africa", "customModelId": ROUTER_MODEL_ID}
TARGET = 0.5

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = %(body)s
wrk.headers["Content-Type"] = "application/json"
%(auth)s
local n = 0
local tag = ""
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) %% 100000)
  tag = tostring(math.random(1, 1e9))
end
function request()
  n = n + 1
  %(idem)s
  return wrk.format()
end
"""


def lua_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def wrk(url: str, workdir: Path, *, key: str | None, idempotency: bool, duration: int, conns: int) -> float:
    script = workdir / f"post-{free_port()}.lua"
    script.write_text(
        WRK_SCRIPT
        % {
            "body": lua_string(json.dumps(BODY)),
            "auth": f'wrk.headers["Authorization"] = {lua_string("Bearer " + key)}' if key else "",
            "idem": 'wrk.headers["Idempotency-Key"] = "bench-" .. tag .. "-" .. n' if idempotency else "",
        }
    )
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency", "-s", str(script), url]
    subprocess.run([*argv[:3], "-d1s", *argv[4:]], capture_output=True, check=True)  # warm-up
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise SystemExit(f"{url}: {bad.group(1)} answers were not 2xx:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+(\S+)", out)
    print(f"  {url.split('/', 3)[-1]:<18} {rate:8.0f} req/s   p50 {p50.group(1) if p50 else '?'}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ffgate-bench-"))
    settings = {"duration": args.duration, "conns": args.connections}
    print(f"wrk -t1 -c{args.connections} -d{args.duration}s (after a 1 s warm-up), one process per server")

    with running_stack(workdir, workers=0, FFGATE_LOG_LEVEL="WARNING") as stack:
        gateway = stack.gateways["gateway"]
        with stack.client() as admin:
            # Limits high enough never to refuse, but counted like any client's.
            spec = {"name": "bench", "rateLimit": {"requestsPerMinute": 1_000_000}, "dailyImageQuota": 10**7}
            created = admin.post("/v1/admin/clients", json=spec)
            created.raise_for_status()
        key = created.json()["apiKey"]
        warm = httpx.post(
            f"{gateway}/v1/generations", json=BODY, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        warm.raise_for_status()  # also fills the model catalogue cache
        ours = wrk(f"{gateway}/v1/generations", workdir, key=key, idempotency=True, **settings)
        stack.kill("gateway")

        port = free_port()
        env = stack.env | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        bare = Child(
            "bare",
            subprocess.Popen(
                [sys.executable, "-m", "bench.bare_app", "--port", str(port)],
                env=env,
                stdin=subprocess.DEVNULL,
                process_group=0,
            ),
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.post(f"{base}/bare/create", json=BODY, timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            bare_rate = wrk(f"{base}/bare/create", workdir, key=None, idempotency=False, **settings)
            rq_rate = wrk(f"{base}/bare/rq", workdir, key=None, idempotency=False, **settings)
        finally:
            stop_children([bare])

    verdict = "meets" if ours / bare_rate >= TARGET else "MISSES"
    print(
        f"POST /v1/generations / bare create route: {ours / bare_rate:.2f}  ({verdict} the target {TARGET})"
    )
    print(f"POST /v1/generations / bare RQ route:     {ours / rq_rate:.2f}")


if __name__ == "__main__":
    main()
