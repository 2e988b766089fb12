"""What auth, the per-client rate limit, the daily quota and idempotency cost on the submit path.

Starts the emulator and one gateway on loopback (no worker: nothing drains the schedule, so only the submit
path runs), creates an API client (limits high enough never to refuse, but counted), and a bare FastAPI app
(`bench/bare_app.py`) served the same way (one uvicorn process, uvloop, httptools). Then, in interleaved
rounds with the same `wrk` settings (a Lua script sets the body, the key and a fresh `Idempotency-Key`):

  - `POST /v1/generations` with the client's key and an `Idempotency-Key`: auth, rate limit, scope, quota,
    idempotency, validation against the model catalogue and the write (ffgate.generations.admission);
  - `/bare/create`: parse the body and run one MULTI (HSET record + ZADD), the floor under the write our
    route does, without auth, limits, idempotency,
    validation or the per-client index. The target (>= 0.5) is judged against this one;
  - `/bare/rq`: an RQ `Queue.enqueue` of a job with the same payload (for reference: how submits were queued
    before the schedule).

It prints requests/s, the server process's CPU time per request (steadier than requests/s on a shared
machine) and the ratios; the median ratio over the rounds is the result.

    .venv/bin/python bench/submit_overhead.py [--rounds 3] [--duration 4] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import start_reference_app
from emulator.seed import ROUTER_MODEL_ID
from ffgate.cli.processes import Child, stop_children
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(
    url: str, workdir: Path, *, key: str | None, idempotency: bool, duration: int, conns: int, pid: int
) -> float:
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
    cpu_before = cpu_seconds(pid)
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - cpu_before
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise SystemExit(f"{url}: {bad.group(1)} answers were not 2xx:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s*50%\s+(\S+)", out, re.MULTILINE)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    print(
        f"  {url.split('/', 3)[-1]:<18} {rate:8.0f} req/s   p50 {p50.group(1) if p50 else '?':>8}   "
        f"server CPU {cpu / total * 1000:.2f} ms/request"
    )
    return rate


def start_bare_app(stack_env: dict[str, str]) -> tuple[Child, str]:
    return start_reference_app(
        "bench.bare_app", [], stack_env, lambda base: httpx.post(f"{base}/bare/create", json=BODY, timeout=1)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=4, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (ours, bare, RQ), interleaved")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ffgate-bench-"))
    settings = {"duration": args.duration, "conns": args.connections}
    print(
        f"wrk -t1 -c{args.connections} -d{args.duration}s after a 1 s warm-up; one uvicorn process per "
        f"server; {args.rounds} interleaved rounds (the median ratio is the result); "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start"
    )

    ratios: list[tuple[float, float]] = []
    # A prefix of its own: Redis pub/sub ignores database numbers, so with the default one this gateway's
    # change feed would also hear every job event of any other ffgate on the same Redis (e.g. a test run).
    with running_stack(
        workdir, workers=0, FFGATE_LOG_LEVEL="WARNING", FFGATE_REDIS_PREFIX="ffbench:"
    ) as stack:
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
        bare, base = start_bare_app(stack.env)
        gw_pid = stack.children["gateway"].pid
        try:
            for round_no in range(1, args.rounds + 1):
                print(f"round {round_no}")
                ours = wrk(
                    f"{gateway}/v1/generations", workdir, key=key, idempotency=True, pid=gw_pid, **settings
                )
                bare_rate = wrk(
                    f"{base}/bare/create", workdir, key=None, idempotency=False, pid=bare.pid, **settings
                )
                rq_rate = wrk(
                    f"{base}/bare/rq", workdir, key=None, idempotency=False, pid=bare.pid, **settings
                )
                ratios.append((ours / bare_rate, ours / rq_rate))
                print(f"  ratio vs bare create {ratios[-1][0]:.2f}, vs bare RQ {ratios[-1][1]:.2f}")
        finally:
            stop_children([bare])

    vs_create = statistics.median(r[0] for r in ratios)
    vs_rq = statistics.median(r[1] for r in ratios)
    verdict = "meets" if vs_create >= TARGET else "MISSES"
    print(
        f"POST /v1/generations / bare create route (median): {vs_create:.2f}  ({verdict} the target {TARGET})"
    )
    print(f"POST /v1/generations / bare RQ route (median):     {vs_rq:.2f}")


if __name__ == "__main__":
    main()
