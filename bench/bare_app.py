"""The reference routes `bench/submit_overhead.py` compares `POST /v1/generations` against.

`GET /bare/get/{key}` is one Redis GET, the floor under `GET /v1/generations/{id}` (bench/read_path.py).
`POST /bare/create` writes a new generation and nothing else: parse the JSON body, then one MULTI (HSET of
the record + ZADD into a queue), the floor under what the admission script (ffgate.generations.admission)
does in one round trip. `POST /bare/rq` enqueues an RQ job by dotted path with the same payload instead (the
way submits went before the fair queue). No auth, no
validation, no middleware.

    python -m bench.bare_app --port P   (FFGATE_REDIS_URL names the Redis)
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from redis import Redis as SyncRedis
from rq import Queue
from rq.serializers import JSONSerializer

from ffgate.generations.records import utcnow
from service.server import run_http

PREFIX = "ffgate-bench:"


def create_app(redis_url: str) -> FastAPI:
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["redis"] = aioredis.Redis.from_url(redis_url, max_connections=256)
        state["sync"] = SyncRedis.from_url(redis_url)
        state["queue"] = Queue("ffgate-bench", connection=state["sync"], serializer=JSONSerializer)
        yield
        await state["redis"].aclose()
        state["sync"].close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/bare/create", status_code=202)
    async def create(body: dict[str, Any]) -> JSONResponse:
        gen_id = "gen_" + secrets.token_urlsafe(16)
        now = utcnow()
        pipe = state["redis"].pipeline(transaction=True)
        pipe.hset(
            f"{PREFIX}gen:{gen_id}",
            mapping={
                "id": gen_id,
                "state": "queued",
                "createdAt": now,
                "updatedAt": now,
                "request": json.dumps(body, separators=(",", ":")),
            },
        )
        pipe.zadd(f"{PREFIX}schedule", {f"submit:{gen_id}": time.time()})
        await pipe.execute()
        return JSONResponse({"id": gen_id, "status": "queued"}, status_code=202)

    @app.get("/bare/get/{key}")
    async def get(key: str) -> JSONResponse:
        """One Redis GET: the floor under reading a generation (bench/read_path.py)."""
        value = await state["redis"].get(f"{PREFIX}value:{key}")
        return JSONResponse({"key": key, "value": value.decode() if value else None})

    @app.post("/bare/rq", status_code=202)
    def enqueue(body: dict[str, Any]) -> JSONResponse:
        gen_id = "gen_" + secrets.token_urlsafe(16)
        state["queue"].enqueue_call(
            "worker.tasks.submit_generation", args=(gen_id, body), timeout=60, result_ttl=0
        )
        return JSONResponse({"id": gen_id, "status": "queued"}, status_code=202)

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    run_http(create_app(os.environ["FFGATE_REDIS_URL"]), "127.0.0.1", args.port, log_level="warning")


if __name__ == "__main__":
    main()
