"""What operators (and the console) look at, scope `admin`: every client's generations, the queue by
client with places and ETAs, the org budget and the breaker."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query

from ffgate.budget.breaker import state_name
from ffgate.budget.eta import places
from ffgate.clients.authentication import ADMIN_CLIENT_ID
from ffgate.errors import ServiceUnavailable
from ffgate.generations.states import Status
from service.deps import Admin, RuntimeDep
from service.operations_schemas import (
    BudgetView,
    BudgetWindow,
    ClientGeneration,
    ClientGenerationList,
    ClientQueue,
    QueuedItem,
    QueueView,
)
from service.routes.generations import present_all
from service.schemas import problem_responses

router = APIRouter(prefix="/v1/admin", tags=["operations"])
_READ = problem_responses(401, 403, 429, 503)
QUEUE_HEAD = 20  # jobs shown per client


@router.get("/generations", operation_id="listAllGenerations", responses=_READ)
async def list_all_generations(
    runtime: RuntimeDep,
    _: Admin,
    client: Annotated[str | None, Query(max_length=100, description="Only this client's.")] = None,
    status: Annotated[Status | None, Query(description="Only those in this status.")] = None,
    model: Annotated[
        str | None, Query(max_length=200, description="Only those of this customModelId.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> ClientGenerationList:
    """The newest generations of every client (or of one), newest first, among each client's latest
    `limit`."""
    if client is not None:
        owners = [client]
    else:
        owners = [ADMIN_CLIENT_ID, *(c.id for c in await runtime.clients.list())]
    pages = await runtime.jobs.newest_pages(owners, limit)
    records = [
        record
        for page in pages
        for _, _, record in page
        if record is not None
        and (status is None or record.status == status)
        and (model is None or record.request.get("customModelId") == model)
    ]
    records = sorted(records, key=lambda r: r.created_at, reverse=True)[:limit]
    shown = await present_all(runtime, records)
    return ClientGenerationList(
        items=[
            ClientGeneration(clientId=r.client_id, generation=g) for r, g in zip(records, shown, strict=True)
        ]
    )


@router.get("/queue", operation_id="getQueue", responses=_READ)
async def get_queue(runtime: RuntimeDep, admin: Admin) -> QueueView:
    """Every client with jobs waiting: how many, the oldest's wait, and its first jobs with their places
    and ETAs (one snapshot for all of them)."""
    queue = runtime.fairqueue
    if queue is None:
        raise ServiceUnavailable("The gateway has no Adobe credentials configured.")
    pipe = runtime.redis.pipeline(transaction=False)
    await queue.lanes(pipe)
    [flat] = await pipe.execute()
    clients = [(flat[i].decode(), int(flat[i + 2])) for i in range(0, len(flat), 3)]
    pipe = runtime.redis.pipeline(transaction=False)
    for client, _ in clients:
        pipe.zrange(runtime.keys.queue(client), 0, QUEUE_HEAD - 1, withscores=True)
    heads = await pipe.execute()
    ids = [[m.decode() for m, _ in head] for head in heads]
    records = [r for r in await runtime.jobs.get_many([i for row in ids for i in row]) if r is not None]
    found = dict(zip((r.id for r in records), await places(queue, records), strict=True))
    now = time.time()
    return QueueView(
        clients=[
            ClientQueue(
                clientId=client,
                depth=depth,
                oldestWaitSeconds=round(max(0.0, now - head[0][1]), 1) if head else 0.0,
                head=[
                    QueuedItem(id=i, position=place.position, etaSeconds=round(place.eta_s))
                    for i in row
                    if (place := found.get(i)) is not None
                ],
            )
            for (client, depth), head, row in zip(clients, heads, ids, strict=True)
        ]
    )


@router.get("/budget", operation_id="getBudget", responses=_READ)
async def get_budget(runtime: RuntimeDep, admin: Admin) -> BudgetView:
    """The Adobe org's budget as it stands: used and remaining this minute and today, a 429 pause, and
    the circuit breaker."""
    queue = runtime.fairqueue
    if queue is None:
        raise ServiceUnavailable("The gateway has no Adobe credentials configured.")
    budget, breaker = await queue.budget.read(), await queue.breaker.read()
    minute, today = len(budget.window), budget.used_today
    return BudgetView(
        credential=queue.budget.client_id,
        minute=BudgetWindow(
            limit=budget.rpm or None,
            used=minute,
            remaining=max(0, budget.rpm - minute) if budget.rpm else None,
        ),
        day=BudgetWindow(
            limit=budget.rpd or None, used=today, remaining=max(0, budget.rpd - today) if budget.rpd else None
        ),
        pausedUntil=budget.paused_until if budget.paused_until > budget.now else None,
        breaker=state_name(breaker, budget.now),
    )
