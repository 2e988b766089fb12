"""Reads per second: `GET /v1/generations/{id}` and `GET /v1/generations?limit=100` (100 queued
generations: each with its place and ETA) against a bare FastAPI route doing one Redis GET, with 1 and N
gateway processes (`ffgate serve --workers N`), and the Redis commands one page costs.

Starts the emulator, the gateway and bench/bare_app.py on loopback (no worker: the generations stay
queued), queues 100 generations for one client, then drives each route for `--seconds` with `--concurrency`
requests in flight from one process.

    .venv/bin/python bench/read_path.py [--processes 2] [--seconds 5] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import submit_generations
from emulator.seed import ROUTER_MODEL_ID
from tests.stack import Stack, free_port

ROOT = Path(__file__).resolve().parent.parent
PAGE = 100


async def drive(url: str, paths: list[str], key: str, seconds: float, concurrency: int) -> float:
    """Requests per second over `seconds`, cycling through `paths` at random."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=30
    ) as client:
        done = 0
        deadline = time.monotonic() + seconds

        async def loop() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                response = await client.get(random.choice(paths))
                response.raise_for_status()
                done += 1

        started = time.monotonic()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        return done / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    stack = Stack(Path(tempfile.mkdtemp(prefix="ffgate-bench-")), FFGATE_LOG_LEVEL="WARNING")
    bare = None
    try:
        stack.start_emulator()
        one = stack.start_gateway()
        many = stack.start_gateway("gateway-n", options=("--workers", str(args.processes)))
        bare_port = free_port()
        bare = subprocess.Popen(
            [sys.executable, "-m", "bench.bare_app", "--port", str(bare_port)],
            cwd=ROOT,
            env=stack.env | {"PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        bare_url = f"http://127.0.0.1:{bare_port}"
        stack.redis.set("ffgate-bench:value:x", "a value")
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{bare_url}/bare/get/x").status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

        _, key = stack.create_client(rateLimit={"requestsPerMinute": 1_000_000})
        body = {"prompt": "a router", "customModelId": ROUTER_MODEL_ID}
        ids = asyncio.run(submit_generations(one, key, [body] * PAGE))
        before = int(stack.redis.info("stats")["total_commands_processed"])
        page = httpx.get(f"{one}/v1/generations?limit={PAGE}", headers={"Authorization": f"Bearer {key}"})
        after = int(stack.redis.info("stats")["total_commands_processed"])
        items = page.json()["items"]
        assert len(items) == PAGE and all(i["queue"] is not None for i in items)
        print(f"one page of {PAGE} queued generations: {after - before - 1} Redis commands (the INFO aside)")

        single = [f"/v1/generations/{i}" for i in ids]
        listing = [f"/v1/generations?limit={PAGE}"]
        s, c = args.seconds, args.concurrency
        bare_rps = asyncio.run(drive(bare_url, ["/bare/get/x"], key, s, c))
        print(f"bare route, one Redis GET:                  {bare_rps:8.0f} req/s")
        for label, url in (("1 process", one), (f"{args.processes} processes", many)):
            single_rps = asyncio.run(drive(url, single, key, s, c))
            page_rps = asyncio.run(drive(url, listing, key, s, c))
            print(
                f"{label:>12}: GET /v1/generations/{{id}} {single_rps:8.0f} req/s "
                f"({single_rps / bare_rps:.2f}x bare); ?limit={PAGE} {page_rps:6.0f} req/s"
            )
        print(f"(cpu count {os.cpu_count()}, one load-generating process, concurrency {c})")
    finally:
        if bare is not None:
            bare.terminate()
            bare.wait(timeout=10)
        stack.close()


if __name__ == "__main__":
    main()
