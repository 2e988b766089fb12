"""`GET /v1/admin/generations` over many clients: every client's newest page is read in one pipeline, so
hundreds of clients cost a few round trips and never one pooled connection each (a Schemathesis run that
had made ~300 clients got a 503 when the gateway asked for them all at once)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from service.deps import Runtime
from tests.admitting import AdmittingStore
from tests.service.in_process import counting_round_trips, gateway, own_runtime

pytestmark = pytest.mark.anyio
CLIENTS = 300
ADMIN = "ffk_operations_listing_admin_key_0123456789"


@pytest.fixture
async def runtime(redis: aioredis.Redis) -> AsyncIterator[Runtime]:
    # more clients than the gateway's pool has connections (256): one connection each would run out
    async with own_runtime(admin_key=ADMIN) as rt:
        yield rt


async def test_every_clients_newest_generations_in_a_few_round_trips(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = AdmittingStore(runtime.redis, runtime.keys, 600)
    ids = []
    for i in range(CLIENTS):
        issued = await runtime.clients.create(
            name=f"team-{i}", scopes=["generate"], requests_per_minute=60, daily_image_quota=None
        )
        gen_id = f"gen_ops{i:03d}"
        await store.create(
            gen_id=gen_id,
            client_id=issued.client.id,
            request_id=f"r{i}",
            request={},
            metadata=None,
            warnings=[],
        )
        ids.append((issued.client.id, gen_id))
        await asyncio.sleep(0.002)  # each created in a millisecond of its own: the order is by createdAt
    async with gateway(runtime, ADMIN) as http:
        await http.get("/v1/admin/generations", params={"limit": 1})  # scripts loaded, connections open
        with counting_round_trips(monkeypatch) as sent:
            listed = await http.get("/v1/admin/generations", params={"limit": 100})
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert [i["generation"]["id"] for i in items] == [g for _, g in reversed(ids)][:100]  # newest first
        assert [i["clientId"] for i in items] == [c for c, _ in reversed(ids)][:100]
        assert sent[0] <= 8, sent[0]  # the key, the clients, one pipeline of pages, the ETA snapshot

        one_client, its_generation = ids[7]
        only = await http.get("/v1/admin/generations", params={"client": one_client})
        assert [i["generation"]["id"] for i in only.json()["items"]] == [its_generation]
