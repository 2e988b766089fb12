"""How many Firefly jobs ffgate keeps in flight, how soon it sees them finish, and at what cost.

Starts the emulator (no rate limit, 20 s job latency), one gateway and two workers on loopback with the
production poll settings, submits 2,000 generations at once through the gateway, waits for all of them,
and prints: peak in-flight upstream jobs, completion lag (emulator finishing a job -> ffgate recording it)
p50/p99, upstream status calls per job, and total worker RSS.

Each success is copied into the output store as in production, but the emulator draws its pictures at most
256 px a side (`--image-side`; 0: at the size asked, 2048 px for these requests): drawing and encoding
10,000 full-size JPEGs is Adobe's work, not ffgate's, and on a small machine it would starve the processes
measured.

    .venv/bin/python bench/inflight.py [--jobs 2000] [--latency 20] [--workers 2] [--image-side 256]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import quantile, submit_generations
from emulator.seed import ROUTER_MODEL_ID
from tests.stack import running_stack

TERMINAL = {b"succeeded", b"failed", b"canceled"}
PRODUCTION_POLLING = {  # the Settings defaults, instead of the fast ones the tests use
    "FFGATE_POLL_FIRST_S": "2",
    "FFGATE_POLL_INTERVAL_S": "2.5",
    "FFGATE_POLL_TAIL_S": "1",
    "FFGATE_POLL_MAX_INTERVAL_S": "15",
    "FFGATE_SUBMIT_RETRY_BASE_S": "2",
    "FFGATE_MAINTENANCE_INTERVAL_S": "15",
    "FFGATE_UPSTREAM_TIMEOUT_S": "15",
    "FFGATE_LOG_LEVEL": "INFO",
}


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--image-side", type=int, default=256)
    args = parser.parse_args()

    env = PRODUCTION_POLLING | {"FFGATE_EMULATOR_JOB_LATENCY_S": str(args.latency)}
    if args.image_side:
        env["FFGATE_EMULATOR_IMAGE_MAX_SIDE"] = str(args.image_side)
    with running_stack(Path(tempfile.mkdtemp(prefix="ffgate-bench-")), workers=args.workers, **env) as stack:
        started = time.time()
        body = {"prompt": "a white router on a volcano in Africa", "customModelId": ROUTER_MODEL_ID}
        bodies = [{**body, "seeds": [i + 1]} for i in range(args.jobs)]
        ids = asyncio.run(
            submit_generations(stack.gateways["gateway"], stack.env["FFGATE_ADMIN_KEY"], bodies)
        )
        posted = time.time() - started
        print(f"submitted {len(ids)} generations to the gateway in {posted:.1f}s ({len(ids) / posted:.0f}/s)")

        keys = [f"ffgate:gen:{gen_id}" for gen_id in ids]
        deadline = time.monotonic() + args.timeout
        while True:
            pipe = stack.redis.pipeline(transaction=False)
            for key in keys:
                pipe.hget(key, "state")
            states = pipe.execute()
            done = sum(1 for s in states if s in TERMINAL)
            if done == len(keys) or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        elapsed = time.time() - started
        workers = [c for name, c in stack.children.items() if name.startswith("worker")]
        rss_now = sum(rss_kib(w.pid, "VmRSS") for w in workers) / 1024
        rss_peak = sum(rss_kib(w.pid, "VmHWM") for w in workers) / 1024

        with stack.emulator() as emu:
            upstream = {j["jobId"]: j for j in emu.get("/_emulator/jobs").json()}
        stats = stack.emu_stats()
        pipe = stack.redis.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, "state", "upstreamJobId", "completedAt")
        lags, calls, outcomes = [], [], {}
        for state, job_id, completed in pipe.execute():
            outcomes[state.decode()] = outcomes.get(state.decode(), 0) + 1
            if state != b"succeeded" or job_id is None:
                continue
            job = upstream[job_id.decode()]
            recorded = datetime.fromisoformat(completed.decode().replace("Z", "+00:00")).timestamp()
            lags.append(recorded - job["finishesAt"])
            calls.append(job["statusCalls"])
        submits = [j["createdAt"] for j in upstream.values()]

    print(f"finished: {outcomes} in {elapsed:.1f}s")
    print(f"upstream submit window: {max(submits) - min(submits):.1f}s for {len(submits)} jobs")
    print(f"peak in-flight upstream jobs: {stats['peakInFlight']} (target: all {args.jobs})")
    print(
        f"completion lag p50 {quantile(lags, 0.5):.2f}s  p99 {quantile(lags, 0.99):.2f}s  "
        f"max {max(lags):.2f}s (target p99 <= 3 s)"
    )
    print(
        f"status calls per job: mean {statistics.mean(calls):.2f}  p99 {quantile(calls, 0.99):.0f}  "
        f"max {max(calls)}  total {stats['requests']['status']} (target <= 5)"
    )
    print(
        f"worker RSS total: {rss_now:.0f} MiB now, {rss_peak:.0f} MiB peak "
        f"({len(workers)} workers; target <= 600 MB)"
    )


if __name__ == "__main__":
    main()
