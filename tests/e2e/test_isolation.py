"""Each client sees only its own generations, on either gateway: by id (404 for others', exactly like a
missing one) and in `GET /v1/generations` (newest first, status filter, cursor paging)."""

from __future__ import annotations

import uuid

import pytest

from emulator.seed import ROUTER_MODEL_ID
from tests.e2e.test_contract import assert_problem
from tests.e2e.test_upstream import outcome
from tests.stack import Stack, wait_terminal

pytestmark = pytest.mark.e2e

GW1, GW2 = "gateway", "gateway-2"


def submit(stack: Stack, gateway: str, key: str, prompt: str) -> str:
    with stack.client(gateway, key) as client:
        response = client.post("/v1/generations", json={"prompt": prompt, "customModelId": ROUTER_MODEL_ID})
    assert response.status_code == 202, response.text
    gen_id: str = response.json()["id"]
    return gen_id


def listed(stack: Stack, gateway: str, key: str, **params: str | int) -> list[str]:
    """Every id `GET /v1/generations` gives, following `nextCursor` to the end."""
    ids: list[str] = []
    cursor: str | None = None
    with stack.client(gateway, key) as client:
        while True:
            query = {**params, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/generations", params=query)
            assert page.status_code == 200, page.text
            ids += [g["id"] for g in page.json()["items"]]
            cursor = page.json()["nextCursor"]
            if cursor is None:
                return ids


def test_a_client_never_sees_another_clients_jobs(replicas: Stack) -> None:
    _, key_a = replicas.create_client(GW1)
    _, key_b = replicas.create_client(GW1, scopes=["generate", "admin"])  # admin scope: still own-only
    jobs_a = [submit(replicas, GW1, key_a, f"router a{i}") for i in range(2)]
    jobs_b = [submit(replicas, GW2, key_b, f"router b{i}") for i in range(3)]

    with replicas.client(GW2, key_a) as a:
        missing = assert_problem(a.get("/v1/generations/gen_neverexisted"), 404)
        for gen_id in jobs_b:
            foreign = assert_problem(a.get(f"/v1/generations/{gen_id}"), 404)
            assert (foreign["type"], foreign["title"]) == (missing["type"], missing["title"])
            assert_problem(a.get(f"/v1/generations/{gen_id}", params={"wait": 1}), 404)
            assert_problem(a.post(f"/v1/generations/{gen_id}/cancel"), 404)
        assert a.get(f"/v1/generations/{jobs_a[0]}").status_code == 200
    with replicas.client(GW1, key_b) as b:
        assert_problem(b.get(f"/v1/generations/{jobs_a[0]}"), 404)

    assert listed(replicas, GW1, key_a) == jobs_a[::-1]
    assert listed(replicas, GW2, key_b) == jobs_b[::-1]
    with replicas.client(GW2) as admin:  # the bootstrap admin key may read any job by id
        assert admin.get(f"/v1/generations/{jobs_a[0]}").status_code == 200
    assert not set(listed(replicas, GW2, replicas.env["FFGATE_ADMIN_KEY"])) & {*jobs_a, *jobs_b}


def test_listing_pages_newest_first_and_filters_by_status(replicas: Stack) -> None:
    _, key = replicas.create_client(GW1)
    tag = uuid.uuid4().hex[:8]
    outcome(replicas, promptContains=f"fail-{tag}", outcome="failed", errorCode="runtime_error")
    prompts = [
        "router one",
        f"router fail-{tag} two",
        "router three",
        f"router fail-{tag} four",
        "router five",
    ]
    created = [submit(replicas, GW1 if i % 2 else GW2, key, p) for i, p in enumerate(prompts)]
    with replicas.client(GW1, key) as client:
        done = {gen_id: wait_terminal(client, gen_id)["status"] for gen_id in created}
        assert list(done.values()) == ["succeeded", "failed", "succeeded", "failed", "succeeded"]

        first = client.get("/v1/generations", params={"limit": 2}).json()
        assert [g["id"] for g in first["items"]] == created[:2:-1] and first["nextCursor"]
        assert first["items"][0]["status"] == "succeeded"  # whole Generation objects

        for bad in ({"cursor": "not-a-cursor"}, {"limit": 0}, {"limit": 101}, {"status": "sending"}):
            assert_problem(client.get("/v1/generations", params=bad), 422)

    assert listed(replicas, GW2, key, limit=2) == created[::-1]
    assert listed(replicas, GW2, key, status="failed") == [created[3], created[1]]
    assert listed(replicas, GW1, key, status="succeeded", limit=1) == [created[4], created[2], created[0]]
    assert listed(replicas, GW1, key, status="queued") == []


def test_expired_jobs_drop_out_of_the_listing(replicas: Stack) -> None:
    _, key = replicas.create_client(GW1)
    kept, gone = submit(replicas, GW1, key, "router kept"), submit(replicas, GW1, key, "router gone")
    replicas.redis.delete(f"ffgate:gen:{gone}")  # as the result TTL would
    assert listed(replicas, GW2, key) == [kept]
