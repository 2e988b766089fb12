"""The read path's Redis round trips, counted at the connection: a page of 100 queued generations, their
places and ETAs included, takes 3 (the key, the page with its records, one snapshot for every ETA)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from service.deps import Runtime
from tests.admitting import AdmittingStore
from tests.service.in_process import counting_round_trips, gateway, own_runtime

pytestmark = pytest.mark.anyio
PAGE = 100


@pytest.fixture
async def runtime(redis: aioredis.Redis) -> AsyncIterator[Runtime]:
    async with own_runtime(upstream_rpm=60, upstream_rpd=1000) as rt:
        yield rt


async def test_a_page_of_100_queued_generations_takes_three_round_trips(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = await runtime.clients.create(
        name="reader", scopes=["generate"], requests_per_minute=10_000, daily_image_quota=None
    )
    client_id, key = issued.client.id, issued.api_key.get_secret_value()
    store = AdmittingStore(runtime.redis, runtime.keys, 600)
    for i in range(PAGE):
        await store.create(
            gen_id=f"gen_page{i:03d}",
            client_id=client_id,
            request_id=f"r{i}",
            request={},
            metadata=None,
            warnings=[],
        )
    await store.create(
        gen_id="gen_other",
        client_id="cli_someone_else",
        request_id="r",
        request={},
        metadata=None,
        warnings=[],
    )
    async with gateway(runtime, key) as http:
        await http.get("/v1/generations", params={"limit": 1})  # scripts loaded, connections open
        with counting_round_trips(monkeypatch) as sent:
            page = await http.get("/v1/generations", params={"limit": PAGE})
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        assert len(items) == PAGE
        assert [item["id"] for item in items] == [f"gen_page{i:03d}" for i in reversed(range(PAGE))]
        assert sent[0] <= 3, sent[0]
        # The places come from one snapshot: the newest is last in the queue, the oldest first (or second:
        # the other client's one job ties with it, and the tie goes by the random client ids).
        positions = [item["queue"]["position"] for item in items]
        assert positions[-1] in (0, 1) and positions == sorted(set(positions), reverse=True)
        assert all(item["queue"]["etaSeconds"] >= 0 for item in items)

        with counting_round_trips(monkeypatch) as sent:
            one = await http.get(f"/v1/generations/{items[0]['id']}")
        assert one.status_code == 200
        assert one.json()["queue"]["position"] == items[0]["queue"]["position"]
        assert sent[0] <= 3, sent[0]  # the key, the record, the snapshot

        await runtime.redis.script_flush()  # as after a Redis restart or a failover
        again = await http.get("/v1/generations", params={"limit": PAGE})
        assert again.status_code == 200
        assert [item["queue"]["position"] for item in again.json()["items"]] == positions


async def test_a_202_takes_two_round_trips(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The admission script (key, limits, quota, idempotency and the write), then the queue place."""
    issued = await runtime.clients.create(
        name="writer", scopes=["generate"], requests_per_minute=10_000, daily_image_quota=100
    )
    model = {"assetId": "urn:aaid:sc:test-model", "trainingMode": "style"}
    assert runtime.models is not None
    monkeypatch.setattr(runtime.models, "cached", lambda asset_id: model)  # a fresh copy of the catalogue
    body = {"prompt": "a router", "customModelId": model["assetId"]}
    async with gateway(runtime, issued.api_key.get_secret_value()) as http:
        assert (await http.post("/v1/generations", json=body)).status_code == 202  # scripts loaded
        with counting_round_trips(monkeypatch) as sent:
            created = await http.post("/v1/generations", json=body)
        assert created.status_code == 202, created.text
        assert created.json()["queue"]["position"] == 1
        assert sent[0] == 2, sent[0]
