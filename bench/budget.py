"""How well ffgate spends the Adobe org's budget: achieved submit rate against the limit, 429s, and how far
the ETAs it reports are from the actual start times.

Starts the emulator limiting at the same rate as ffgate (`--rpm`, default 120/min), one gateway and two
workers on loopback, and four API clients of unequal load queue jobs:
  bulk     0.8 jobs/s (Poisson), and when the run starts a backlog of a quarter of the run's budget
  steady   0.6 jobs/s (Poisson)
  light    0.3 jobs/s (Poisson), or with `--bursty` 15 jobs at once every 45 s (0.33 jobs/s)
  trickle  0.1 jobs/s (Poisson)
The first `--warmup` seconds (default 60, under the budget) are not measured: ffgate learns the clients'
arrival rates, as a gateway that has been running would have. Then the run (`--minutes`, default 5) starts
with bulk's backlog: more than the budget, so jobs wait the whole run. Every job's `queue` is read through
the gateway right after it is queued; its actual start is when the emulator received its POST. The load
goes on after the run until every job queued during it has been sent, so ETAs are measured under the
conditions they were made in. Per-client API keys are not built yet, so jobs are queued with
the admission script (ffgate.generations.admission) for four client ids, exactly as the gateway would for
four keys.

    .venv/bin/python bench/budget.py [--minutes 5] [--rpm 120] [--warmup 60] [--bursty]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.seed import ROUTER_MODEL_ID
from ffgate.redis.keys import Keys
from tests.admitting import AdmittingStore
from tests.stack import ADMIN_KEY, Stack, running_stack


@dataclass
class Job:
    client: str
    gen_id: str
    queued_at: float
    read_at: float = 0.0
    position: int | None = None
    eta_s: int | None = None
    sent_at: float | None = None


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Load:
    def __init__(self, store: AdmittingStore, http: httpx.AsyncClient, measured: tuple[float, float]) -> None:
        self.store = store
        self.http = http
        self.measured = measured  # jobs queued within this span (epoch s) are measured
        self.jobs: dict[str, Job] = {}  # by request id
        self.stop = asyncio.Event()
        self._reads: set[asyncio.Task[None]] = set()

    async def queue(self, client: str, count: int = 1) -> None:
        created = []
        for _ in range(count):
            request_id = uuid.uuid4().hex
            gen_id = f"gen_bench_{request_id[:16]}"
            await self.store.create(
                gen_id=gen_id,
                client_id=client,
                request_id=request_id,
                request={"prompt": f"router for {client}", "customModelId": ROUTER_MODEL_ID},
                metadata=None,
                warnings=[],
            )
            if self.measured[0] <= time.time() < self.measured[1]:
                job = self.jobs[request_id] = Job(client, gen_id, time.time())
                created.append(job)
        for job in created:
            task = asyncio.create_task(self._read(job))
            self._reads.add(task)
            task.add_done_callback(self._reads.discard)

    async def _read(self, job: Job) -> None:
        asked = time.time()
        body = (await self.http.get(f"/v1/generations/{job.gen_id}")).json()
        job.read_at = (asked + time.time()) / 2
        if body["status"] == "queued" and body["queue"]:
            job.position, job.eta_s = body["queue"]["position"], body["queue"]["etaSeconds"]

    async def poisson(self, client: str, per_s: float) -> None:
        while not self.stop.is_set():
            await asyncio.sleep(random.expovariate(per_s))
            await self.queue(client)

    async def bursts(self, client: str, size: int, every_s: float) -> None:
        while not self.stop.is_set():
            await self.queue(client, size)
            await asyncio.sleep(every_s)


async def run_load(
    stack: Stack, minutes: float, rpm: int, warmup_s: float, bursty: bool
) -> tuple[dict[str, Job], float, float]:
    redis = aioredis.Redis.from_url(stack.env["FFGATE_REDIS_URL"])
    store = AdmittingStore(redis, Keys("ffgate:"), result_ttl_s=3600)
    limits = httpx.Limits(max_connections=8)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(
        base_url=stack.gateways["gateway"], headers=headers, limits=limits, timeout=30
    ) as http:
        start = time.time() + warmup_s
        end = start + minutes * 60
        load = Load(store, http, (start, end))
        tasks = [
            asyncio.create_task(load.poisson("bulk", 0.8)),
            asyncio.create_task(load.poisson("steady", 0.6)),
            asyncio.create_task(load.bursts("light", 15, 45) if bursty else load.poisson("light", 0.3)),
            asyncio.create_task(load.poisson("trickle", 0.1)),
        ]
        await asyncio.sleep(warmup_s)
        print(f"warm-up over; measuring for {minutes:g} min")
        await load.queue("bulk", int(0.25 * rpm * minutes))
        await asyncio.sleep(end - time.time())
        print(f"run over; load goes on until the {len(load.jobs)} jobs queued during it are sent")
        async with httpx.AsyncClient(base_url=stack.emulator_url, timeout=30) as emu:
            while True:
                sent = await sent_times(emu)
                if all(request_id in sent for request_id in load.jobs):
                    break
                await asyncio.sleep(2)
        load.stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await redis.aclose()
    for request_id, job in load.jobs.items():
        job.sent_at = sent[request_id]
    return load.jobs, start, end


async def sent_times(emu: httpx.AsyncClient) -> dict[str, float]:
    """request id -> when the emulator received the POST that it accepted."""
    sent: dict[str, float] = {}
    cursor = 0
    while True:
        page = (await emu.get("/_emulator/requests", params={"since": cursor})).json()
        for item in page["items"]:
            if item["endpoint"] == "generate" and item["status"] == 202:
                sent[item["requestId"]] = item["at"]
        if not page["items"]:
            return sent
        cursor = page["next"]


def report(stack: Stack, jobs: dict[str, Job], start: float, end: float, rpm: int) -> None:
    with stack.emulator() as emu:
        stats = emu.get("/_emulator/stats").json()
        items = emu.get("/_emulator/requests").json()["items"]
    every = [r["at"] for r in items if r["endpoint"] == "generate"]
    in_run = sorted(t for t in every if start <= t < end)
    windows = [sum(t <= u < t + 60 for u in every) for t in in_run if t + 60 <= end]
    rate = len(in_run) / ((end - start) / 60) / rpm
    told = [j for j in jobs.values() if j.eta_s is not None and j.sent_at is not None]
    waits = [j.sent_at - j.read_at for j in told if j.sent_at]
    abs_err = [abs(j.eta_s - (j.sent_at - j.read_at)) for j in told if j.eta_s is not None and j.sent_at]
    rel = [e / w for e, w in zip(abs_err, waits, strict=True) if w >= 10]
    per_client = Counter(j.client for j in jobs.values())
    print(f"clients (jobs queued during the run): {dict(per_client)}")
    print(f"configured limit: {rpm}/min; run: {(end - start) / 60:.1f} min")
    print(f"achieved submit rate / configured limit: {rate:.3f}  ({len(in_run)} submits in the run)")
    print(f"busiest 60 s window: {max(windows, default=0)} submits (limit {rpm})")
    print(f"429 responses from the emulator: {stats['responses429']}")
    print(
        f"jobs told an ETA: {len(told)}; their waits: p50 {quantile(waits, 0.5):.1f}s, max {max(waits):.1f}s"
    )
    print(
        "ETA error, relative to the actual wait (jobs that waited >= 10 s, "
        f"{len(rel)} of them): p50 {quantile(rel, 0.5):.1%}  p90 {quantile(rel, 0.9):.1%}  "
        f"p99 {quantile(rel, 0.99):.1%}"
    )
    print(
        f"ETA error in seconds (all {len(abs_err)}): p50 {quantile(abs_err, 0.5):.2f}  "
        f"p90 {quantile(abs_err, 0.9):.2f}  p99 {quantile(abs_err, 0.99):.2f}  max {max(abs_err):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rpm", type=int, default=120)
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds of load before the run")
    parser.add_argument("--bursty", action="store_true", help="the light client sends bursts")
    parser.add_argument("--save", metavar="PATH", help="write every job's figures here (JSON lines)")
    args = parser.parse_args()
    env = {
        "FFGATE_UPSTREAM_RPM": str(args.rpm),
        "FFGATE_EMULATOR_RPM": str(args.rpm),
        "FFGATE_EMULATOR_JOB_LATENCY_S": "2",
        "FFGATE_LOG_LEVEL": "WARNING",
    }
    with (
        tempfile.TemporaryDirectory(prefix="ffgate-bench-") as tmp,
        running_stack(Path(tmp), workers=2, **env) as stack,
    ):
        jobs, start, end = asyncio.run(run_load(stack, args.minutes, args.rpm, args.warmup, args.bursty))
        report(stack, jobs, start, end, args.rpm)
        if args.save:
            rows = [{"start": start, **vars(job)} for job in jobs.values()]
            Path(args.save).write_text("\n".join(json.dumps(row) for row in rows) + "\n")


if __name__ == "__main__":
    main()
