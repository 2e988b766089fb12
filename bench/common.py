"""What the benchmarks share: submitting through the gateway and reading percentiles."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from ffgate.cli.processes import Child, stop_children
from tests.stack import free_port


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def submit_generations(
    url: str, key: str, bodies: Sequence[dict[str, Any]], on_created: Callable[[str], None] | None = None
) -> list[str]:
    """POST every body to the gateway, 8 at a time; the generation ids, in order."""
    # httpx's pool slows down sharply past ~8 concurrent requests in one loop: keep the load generator
    # lean, or it (not the gateway) sets the pace.
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=60
    ) as client:
        slots = asyncio.Semaphore(8)

        async def one(body: dict[str, Any]) -> str:
            async with slots:
                response = await client.post("/v1/generations", json=body)
            response.raise_for_status()
            gen_id: str = response.json()["id"]
            if on_created is not None:
                on_created(gen_id)
            return gen_id

        return await asyncio.gather(*(one(body) for body in bodies))


def start_reference_app(
    module: str, args: list[str], env: dict[str, str], probe: Callable[[str], httpx.Response]
) -> tuple[Child, str]:
    """Start `python -m <module> --port P <args>` (a bare app to compare against) and wait until `probe`,
    given its base URL, gets a 2xx; the child and its base URL."""
    port = free_port()
    env = env | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    argv = [sys.executable, "-m", module, "--port", str(port), *args]
    child = Child("bare", subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, process_group=0))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            probe(base).raise_for_status()
            return child, base
        except httpx.HTTPError:
            if time.monotonic() > deadline or child.proc.poll() is not None:
                stop_children([child])
                raise
            time.sleep(0.1)
