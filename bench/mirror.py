"""Mirroring at scale: how soon outputs are in ffgate's store after their generations succeed, at what
cost, and how fast the gateway serves them.

Starts the emulator (no rate limit; outputs padded to 1-3 MB, drawn small so that drawing costs little),
one gateway and two workers on loopback, submits 2,000 generations of 2 outputs each at once, waits until
every output is stored, and prints: the delay from a generation succeeding to all its outputs being stored
(p50/p99/max), copies per second, worker RSS, and `GET /v1/generations/{id}/outputs/0` throughput with a
client key (requests/s, MB/s, `wrk`) against a bare Starlette `FileResponse` of the same file.
Targets: p99 copy delay <= 10 s, RSS <= 400 MB for 2 workers, serving >= 0.7x the bare route.

    .venv/bin/python bench/mirror.py [--jobs 2000] [--workers 2] [--duration 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import quantile, start_reference_app, submit_generations
from bench.inflight import PRODUCTION_POLLING, rss_kib
from bench.submit_overhead import cpu_seconds
from emulator.seed import ROUTER_MODEL_ID
from ffgate.cli.processes import Child, stop_children
from ffgate.generations.outputs import epoch
from tests.stack import running_stack

TARGET_P99_S, TARGET_RSS_MB, TARGET_SERVING = 10.0, 400, 0.7
EMULATOR = {
    "FFGATE_EMULATOR_IMAGE_MAX_SIDE": "256",
    "FFGATE_EMULATOR_IMAGE_MIN_BYTES": str(1_000_000),
    "FFGATE_EMULATOR_IMAGE_MAX_BYTES": str(3_000_000),
}


def system_seconds(pid: int) -> float:
    """The part of the process's CPU time spent in the kernel (socket and file copies, fsync, epoll)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[12]) / os.sysconf("SC_CLK_TCK")


def stored_state(stack: Any, keys: list[str]) -> tuple[int, list[tuple[str, list[dict[str, Any]]]]]:
    pipe = stack.redis.pipeline(transaction=False)
    for key in keys:
        pipe.hmget(key, "completedAt", "outputs")
    rows = [(c.decode(), json.loads(o)) for c, o in pipe.execute() if c and o]
    done = sum(
        1
        for _, outputs in rows
        if all(o["image"].get("stored") or o["image"].get("storeError") for o in outputs)
    )
    return done, rows


def wrk(url: str, key: str | None, duration: int, conns: int) -> float:
    """Requests/s from `wrk -t1` (every answer must be a 2xx)."""
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", url]
    if key:
        argv[1:1] = ["-H", f"Authorization: Bearer {key}"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{url}: failed answers\n{out}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert found is not None, out
    return float(found.group(1))


def start_bare(path: Path, env: dict[str, str]) -> tuple[Child, str]:
    return start_reference_app(
        "bench.bare_files", ["--file", str(path)], env, lambda base: httpx.get(f"{base}/file", timeout=2)
    )


def main(workdir: Path) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency", type=float, default=10.0, help="emulator job latency (s)")
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="another FFGATE_* setting"
    )
    args = parser.parse_args()

    env = (
        PRODUCTION_POLLING
        | EMULATOR
        | {
            "FFGATE_EMULATOR_JOB_LATENCY_S": str(args.latency),
            "FFGATE_REDIS_PREFIX": "ffbench-mirror:",
            "FFGATE_LOG_LEVEL": "WARNING",
            # so that the serving client's one request is answered from the admin's stored generation
            "FFGATE_REUSE_ACROSS_CLIENTS": "true",
        }
        | dict(setting.split("=", 1) for setting in args.set)
    )
    load = os.getloadavg()[0]
    print(f"{args.jobs} generations x 2 outputs of 1-3 MB, {args.workers} workers; load average {load:.2f}")
    if args.set:
        print("settings: " + " ".join(args.set))
    with running_stack(workdir, workers=args.workers, **env) as stack:
        started = time.time()
        body = {"prompt": "a white router on a volcano in Africa", "customModelId": ROUTER_MODEL_ID}
        bodies = [{**body, "seeds": [2 * i + 1, 2 * i + 2]} for i in range(args.jobs)]
        ids = asyncio.run(
            submit_generations(stack.gateways["gateway"], stack.env["FFGATE_ADMIN_KEY"], bodies)
        )
        print(f"submitted {len(ids)} generations in {time.time() - started:.1f}s")
        keys = [f"ffbench-mirror:gen:{gen_id}" for gen_id in ids]
        deadline = time.monotonic() + args.timeout
        while True:
            done, rows = stored_state(stack, keys)
            if done == len(keys) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        workers = [c for name, c in stack.children.items() if name.startswith("worker")]
        cpu = {name: cpu_seconds(child.pid) for name, child in stack.children.items()}
        kernel = {name: system_seconds(child.pid) for name, child in stack.children.items()}
        rss_now = sum(rss_kib(w.pid, "VmRSS") for w in workers) / 1024
        rss_peak = sum(rss_kib(w.pid, "VmHWM") for w in workers) / 1024

        delays, stored_at, succeeded_at, failed, total_bytes = [], [], [], 0, 0
        for completed, outputs in rows:
            finished = epoch(completed)
            succeeded_at.append(finished)
            times = [epoch(o["image"]["storedAt"]) for o in outputs if o["image"].get("stored")]
            failed += sum(1 for o in outputs if not o["image"].get("stored"))
            total_bytes += sum(o["image"].get("size") or 0 for o in outputs)
            stored_at += times
            if len(times) == len(outputs):
                delays.append(max(times) - finished)
        span = max(stored_at) - min(succeeded_at)
        gigabytes = total_bytes / 1e9
        print(f"stored: {len(stored_at)} outputs ({gigabytes:.2f} GB) of {done} generations, {failed} not")
        print(f"generations succeeded over {max(succeeded_at) - min(succeeded_at):.1f}s")
        print(
            f"copy delay (succeeded -> all outputs stored): p50 {quantile(delays, 0.5):.2f}s  "
            f"p99 {quantile(delays, 0.99):.2f}s  max {max(delays):.2f}s (target p99 <= {TARGET_P99_S:.0f} s)"
        )
        print(
            "CPU seconds so far (of them in the kernel): "
            + ", ".join(f"{name} {used:.1f} ({kernel[name]:.1f})" for name, used in cpu.items())
        )
        print(f"copies: {len(stored_at) / span:.0f}/s, {total_bytes / 1e6 / span:.0f} MB/s over {span:.1f}s")
        print(f"worker RSS total: {rss_now:.0f} MiB now, {rss_peak:.0f} MiB peak ({len(workers)} workers; "
              f"target <= {TARGET_RSS_MB} MB)")  # fmt: skip

        # Serving: one output through the gateway (a client's key) and the same file bare.
        with stack.client() as admin:
            spec = {"name": "bench", "rateLimit": {"requestsPerMinute": 1_000_000}}
            key = admin.post("/v1/admin/clients", json=spec).json()["apiKey"]
            own = admin.post("/v1/generations", json=bodies[0], headers={"Authorization": f"Bearer {key}"})
            own.raise_for_status()  # the same request again: answered from the store, now the client's own
            generation = own.json()
        assert generation.get("reused"), generation
        sha = generation["outputs"][0]["image"]["sha256"]
        path = workdir / "outputs" / sha[:2] / sha
        url = stack.gateways["gateway"] + generation["outputs"][0]["image"]["url"]
        assert httpx.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        bare, base = start_bare(path, stack.env)
        try:
            wrk(url, key, 1, args.connections)  # warm-up
            ours = wrk(url, key, args.duration, args.connections)
            theirs = wrk(f"{base}/file", None, args.duration, args.connections)
        finally:
            stop_children([bare])
        size_mb = path.stat().st_size / 1e6
        print(
            f"GET .../outputs/0 ({size_mb:.1f} MB, wrk -t1 -c{args.connections} -d{args.duration}s): "
            f"gateway {ours:.0f} req/s {ours * size_mb:.0f} MB/s; bare FileResponse {theirs:.0f} req/s "
            f"{theirs * size_mb:.0f} MB/s; ratio {ours / theirs:.2f} (target >= {TARGET_SERVING})"
        )


if __name__ == "__main__":
    workdir = Path(tempfile.mkdtemp(prefix="ffgate-bench-mirror-"))
    try:
        main(workdir)
    finally:  # 2,000 x 2 outputs are ~8 GB: never leave them behind
        shutil.rmtree(workdir, ignore_errors=True)
