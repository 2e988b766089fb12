"""`Idempotency-Key` on `POST /v1/generations`, over two gateways: one job (and one Firefly call) per key and
body, however many concurrent retries arrive; another body with the same key is a 422."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from emulator.seed import ROUTER_MODEL_ID, STYLE_MODEL_ID
from tests.e2e.test_contract import assert_problem
from tests.stack import Stack, wait_terminal

pytestmark = pytest.mark.e2e

GW1, GW2 = "gateway", "gateway-2"
BODY = {"prompt": "a white router on a volcano", "customModelId": ROUTER_MODEL_ID, "numVariations": 2}


def test_fifty_concurrent_retries_create_one_job_and_one_firefly_call(replicas: Stack) -> None:
    _, key = replicas.create_client(GW1, dailyImageQuota=10)
    idempotency_key = f"order-{uuid.uuid4()}"
    request_ids = [f"idem-{i}-{uuid.uuid4().hex[:8]}" for i in range(50)]
    clients = [replicas.client(GW1 if i % 2 else GW2, key) for i in range(50)]
    for client in clients:
        client.get("/healthz")  # connected before the start line, so the POSTs really overlap
    start = threading.Barrier(50)

    def post(i: int) -> httpx.Response:
        start.wait()
        headers = {"Idempotency-Key": idempotency_key, "X-Request-ID": request_ids[i]}
        return clients[i].post("/v1/generations", json=BODY, headers=headers)

    try:
        with ThreadPoolExecutor(50) as pool:
            responses = list(pool.map(post, range(50)))
    finally:
        for client in clients:
            client.close()

    assert all(r.status_code == 202 for r in responses), {r.status_code for r in responses}
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    gen_id = ids.pop()
    assert all(r.headers["location"] == f"/v1/generations/{gen_id}" for r in responses)
    originals = [r for r in responses if "idempotent-replayed" not in r.headers]
    assert len(originals) == 1  # the others were answered as replays
    assert all(r.headers["idempotent-replayed"] == "true" for r in responses if r not in originals)

    with replicas.client(GW2, key) as client:
        assert wait_terminal(client, gen_id)["status"] == "succeeded"
        assert [g["id"] for g in client.get("/v1/generations").json()["items"]] == [gen_id]
        # The quota was spent once: 2 of 10 images, so 8 more fit and a 9th does not.
        for _ in range(2):
            assert client.post("/v1/generations", json={**BODY, "numVariations": 4}).status_code == 202
        assert_problem(client.post("/v1/generations", json={**BODY, "numVariations": 1}), 429)
    generate_calls = [
        r for r in replicas.emu_requests() if r["endpoint"] == "generate" and r["requestId"] in request_ids
    ]
    assert len(generate_calls) == 1


def test_the_same_key_with_another_body_is_422_and_queues_nothing(replicas: Stack) -> None:
    _, key = replicas.create_client(GW1)
    headers = {"Idempotency-Key": "retry-me"}
    with replicas.client(GW1, key) as one, replicas.client(GW2, key) as two:
        first = one.post("/v1/generations", json=BODY, headers=headers)
        assert first.status_code == 202
        problem = assert_problem(
            two.post("/v1/generations", json={**BODY, "prompt": "another router"}, headers=headers), 422
        )
        assert "Idempotency-Key" in problem["detail"]
        assert_problem(two.post("/v1/generations", json={**BODY, "numVariations": 1}, headers=headers), 422)

        # The same body with its keys in another order and other spacing is the same body.
        reordered = {"numVariations": 2, "customModelId": ROUTER_MODEL_ID, "prompt": BODY["prompt"]}
        raw = json.dumps(reordered, indent=3)
        again = two.post(
            "/v1/generations", content=raw, headers={**headers, "Content-Type": "application/json"}
        )
        assert (again.status_code, again.json()["id"]) == (202, first.json()["id"])
        assert again.headers["idempotent-replayed"] == "true"
        # ... and so is a retry once the job has finished: the original job, as it is now.
        assert wait_terminal(two, first.json()["id"])["status"] == "succeeded"
        late = one.post("/v1/generations", json=BODY, headers=headers)
        assert (late.status_code, late.json()["id"], late.json()["status"]) == (
            202,
            first.json()["id"],
            "succeeded",
        )
        assert [g["id"] for g in one.get("/v1/generations").json()["items"]] == [first.json()["id"]]


def test_keys_belong_to_one_client_and_refused_requests_store_nothing(replicas: Stack) -> None:
    _, key_a = replicas.create_client(GW1)
    _, key_b = replicas.create_client(GW1)
    headers = {"Idempotency-Key": "shared-name"}
    with replicas.client(GW1, key_a) as a, replicas.client(GW2, key_b) as b:
        unknown_model = {**BODY, "customModelId": "urn:aaid:sc:VA6C2:00000000-0000-0000-0000-000000000000"}
        assert_problem(a.post("/v1/generations", json=unknown_model, headers=headers), 422)
        assert_problem(a.post("/v1/generations", json={**BODY, "numVariations": 9}, headers=headers), 422)
        made_a = a.post("/v1/generations", json={**BODY, "customModelId": STYLE_MODEL_ID}, headers=headers)
        assert made_a.status_code == 202 and "idempotent-replayed" not in made_a.headers
        made_b = b.post("/v1/generations", json=BODY, headers=headers)  # same key, another client
        assert made_b.status_code == 202 and "idempotent-replayed" not in made_b.headers
        assert made_a.json()["id"] != made_b.json()["id"]

        for bad in ("", "x" * 256):
            assert_problem(a.post("/v1/generations", json=BODY, headers={"Idempotency-Key": bad}), 422)
        assert a.post("/v1/generations", json=BODY, headers={"Idempotency-Key": "k" * 255}).status_code == 202


def test_a_key_whose_generation_was_deleted_is_a_409_not_a_new_job(replicas: Stack) -> None:
    key = f"deleted-{uuid.uuid4()}"
    with replicas.client() as client:
        created = client.post("/v1/generations", json=BODY, headers={"Idempotency-Key": key})
        assert created.status_code == 202
        gen_id = created.json()["id"]
        wait_terminal(client, gen_id)
        assert client.delete(f"/v1/generations/{gen_id}").status_code == 204
        again = client.post("/v1/generations", json=BODY, headers={"Idempotency-Key": key})
    assert_problem(again, 409)
    assert gen_id in again.json()["detail"] and "new key" in again.json()["detail"]
