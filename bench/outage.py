"""Redis stopped for 10 s with 500 generations in flight: what is lost, what is sent twice, what clients see.

Starts a redis-server of its own (append-only file, so its data survive the stop), the emulator (20 s job
latency, generate-async answering in about 1 s), one gateway and two workers on loopback; submits 500
generations, stops Redis while submits and polls are in flight, keeps a client calling the gateway for the
10 s (reads, lists and new submits, one at a time), starts Redis again and waits for every generation.
Prints: generations lost (not succeeded; target 0), sent twice (target 0), client-visible errors by kind,
and the p99 time of the client's calls during the outage.

    .venv/bin/python bench/outage.py [--jobs 500] [--outage 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import quantile, submit_generations
from emulator.seed import ROUTER_MODEL_ID
from tests.own_redis import OwnRedis
from tests.stack import running_stack

TERMINAL = {b"succeeded", b"failed", b"canceled"}


def kind(response: httpx.Response) -> str:
    if response.status_code < 400:
        return f"{response.status_code} ok"
    problem = "problem" if response.headers.get("content-type") == "application/problem+json" else "other"
    retry = " with Retry-After" if "retry-after" in response.headers else " without Retry-After"
    return f"{response.status_code} {problem}{retry}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--outage", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ffgate-bench-outage-"))
    own = OwnRedis(workdir)
    own.start()
    env = {"FFGATE_EMULATOR_JOB_LATENCY_S": "20", "FFGATE_SUBMIT_CONCURRENCY": "64"}
    try:
        with running_stack(
            workdir, workers=2, redis_client=own.client(), FFGATE_REDIS_URL=own.url, **env
        ) as stack:
            with stack.emulator() as emu:
                fault = {"endpoint": "generate", "status": None, "delayS": 1.0}
                assert emu.post("/_emulator/faults", json=fault).status_code == 200
            url, key = stack.gateways["gateway"], stack.env["FFGATE_ADMIN_KEY"]
            body = {"prompt": "a white router on a volcano", "customModelId": ROUTER_MODEL_ID}
            ids = asyncio.run(submit_generations(url, key, [body] * args.jobs))
            print(f"submitted {len(ids)} generations; stopping Redis for {args.outage:g}s")

            errors: Counter[str] = Counter()
            took: list[float] = []
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
                own.stop()
                ends = time.monotonic() + args.outage
                while time.monotonic() < ends:
                    for method, path, json in (
                        ("GET", f"/v1/generations/{random.choice(ids)}", None),
                        ("GET", "/v1/generations", None),
                        ("POST", "/v1/generations", body),
                    ):
                        started = time.monotonic()
                        try:
                            errors[kind(client.request(method, path, json=json))] += 1
                        except httpx.HTTPError as exc:
                            errors[f"transport: {type(exc).__name__}"] += 1
                        took.append(time.monotonic() - started)
                own.start()
                print("Redis is back")

                deadline = time.monotonic() + args.timeout
                keys = [f"ffgate:gen:{gen_id}" for gen_id in ids]
                while True:
                    pipe = stack.redis.pipeline(transaction=False)
                    for k in keys:
                        pipe.hget(k, "state")
                    states = pipe.execute()
                    if all(s in TERMINAL for s in states) or time.monotonic() > deadline:
                        break
                    time.sleep(1.0)
            outcomes = Counter((s or b"missing").decode() for s in states)
            failures = Counter(
                (stack.redis.hget(k, "error") or b"").decode()[:160]
                for k, s in zip(keys, states, strict=True)
                if s != b"succeeded"
            )
            generates = Counter(r["requestId"] for r in stack.emu_requests() if r["endpoint"] == "generate")
    finally:
        own.stop()

    print(f"outcomes: {dict(outcomes)}")
    print(f"generations lost: {args.jobs - outcomes['succeeded']} (target 0) {dict(failures)}")
    print(f"sent twice: {sum(1 for n in generates.values() if n > 1)} (target 0)")
    print(f"client calls during the outage: {len(took)}; by kind: {dict(errors)}")
    print(
        f"client call time during the outage: p50 {quantile(took, 0.5):.3f}s  p99 {quantile(took, 0.99):.3f}s"
    )


if __name__ == "__main__":
    main()
