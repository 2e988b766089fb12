"""The gateway's Firefly-compatible surface: `/ims/token/v2|v3` with an ffgate client's id and key, then
Firefly's own `/v3` calls with Firefly's shapes, and the job an ordinary generation of that client."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx
import pytest

from emulator import seed
from tests.stack import Stack

pytestmark = pytest.mark.e2e

BODY = {
    "numVariations": 2,
    "size": {"width": 2048, "height": 2048},
    "prompt": "a white CitiSignal router on a colourful background",
    "negativePrompt": "red",
    "contentClass": "photo",
    "customModelId": seed.ROUTER_MODEL_ID,
}


def _gateway(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.gateways["gateway"], timeout=30)


def _token(
    stack: Stack, client_id: str, secret: str, *, version: str = "v2", form: bool = False
) -> httpx.Response:
    params = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "scope": "openid,AdobeID, ff_apis, firefly_api",
    }
    with _gateway(stack) as gw:
        if form:
            return gw.post(f"/ims/token/{version}", data=params)
        return gw.post(f"/ims/token/{version}", params=params)


def _bearer(token: str, client_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "x-api-key": client_id}


def _poll(gw: httpx.Client, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        response = gw.get(f"/v3/status/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] not in ("pending", "running") or time.monotonic() > deadline:
            return body
        time.sleep(0.3)


@pytest.mark.parametrize(("version", "form"), [("v2", False), ("v3", True)])
def test_a_token_from_either_ims_path_and_either_encoding(stack: Stack, version: str, form: bool) -> None:
    client_id, key = stack.create_client()
    response = _token(stack, client_id, key, version=version, form=form)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.keys() == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["access_token"] != key and key not in response.text
    assert int(stack.redis.ttl(next(iter(stack.redis.scan_iter("ffgate:access-token:*"))))) <= 3600


def test_firefly_code_runs_against_the_gateway_as_an_ordinary_generation(stack: Stack) -> None:
    client_id, key = stack.create_client()
    token = _token(stack, client_id, key).json()["access_token"]
    headers = _bearer(token, client_id)
    with _gateway(stack) as gw:
        listing = gw.get("/v3/custom-models", headers=headers)
        assert listing.status_code == 200, listing.text
        page = listing.json()
        assert page.keys() == {"custom_models", "_links", "total_count"}
        assert page["custom_models"][0]["assetId"] == seed.ROUTER_MODEL_ID
        assert len(page["custom_models"]) == 10 and page["total_count"] == 11 and "next" in page["_links"]
        second = gw.get(page["_links"]["next"]["href"], headers=headers).json()
        assert len(second["custom_models"]) == 1 and "next" not in second["_links"]

        generate_headers = {
            **headers,
            "x-model-version": "image4_custom",
            "x-accept-mimetype": "image/jpeg",
            "Accept": "application/json",
        }
        accepted = gw.post("/v3/images/generate-async", json=BODY, headers=generate_headers)
        assert accepted.status_code == 202, accepted.text
        job = accepted.json()
        assert job.keys() == {"jobId", "statusUrl", "cancelUrl"}
        assert job["statusUrl"] == f"{stack.gateways['gateway']}/v3/status/{job['jobId']}"
        assert job["cancelUrl"] == f"{stack.gateways['gateway']}/v3/cancel/{job['jobId']}"

        done = _poll(gw, job["jobId"], headers)
        assert done["status"] == "succeeded", done
        assert done["result"]["size"] == {"width": 2048, "height": 2048}
        assert [type(o["seed"]) for o in done["result"]["outputs"]] == [int, int]
        assert all(httpx.get(o["image"]["url"]).status_code == 200 for o in done["result"]["outputs"])

        refused = gw.put(f"/v3/cancel/{job['jobId']}", headers=headers)
        assert refused.status_code == 409
        assert refused.json()["error_code"] == "job_completed"

        # An ordinary generation of that client: in its listing, with the version sent and the warning.
        own = gw.get("/v1/generations", headers={"Authorization": f"Bearer {key}"}).json()["items"]
    assert [g["id"] for g in own] == [job["jobId"]]
    assert own[0]["request"]["modelVersion"] == "image4_custom"
    assert any("negativePrompt" in w for w in own[0]["warnings"])
    sent = next(
        e
        for e in stack.emu_requests()
        if e["endpoint"] == "generate" and e.get("jobId") == own[0]["upstream"]["jobId"]
    )
    assert sent["modelVersion"] == "image4_custom"


def test_an_api_key_is_a_bearer_too_and_a_queued_job_can_be_cancelled(stack: Stack) -> None:
    _client_id, key = stack.create_client()
    with stack.emulator() as emu:
        emu.post(
            "/_emulator/outcomes",
            json={"promptContains": "slow router", "outcome": "succeeded", "latencyS": 30},
        )
    with _gateway(stack) as gw:
        headers = {"Authorization": f"Bearer {key}"}
        job = gw.post(
            "/v3/images/generate-async", json={**BODY, "prompt": "a slow router"}, headers=headers
        ).json()
        assert gw.put(f"/v3/cancel/{job['jobId']}", headers=headers).json() == {}
        assert _poll(gw, job["jobId"], headers)["status"] == "cancelled"
        again = gw.put(f"/v3/cancel/{job['jobId']}", headers=headers)
    assert (again.status_code, again.json()["error_code"]) == (409, "job_already_canceled")


def test_a_revoked_or_rotated_clients_token_stops_working_at_once(stack: Stack) -> None:
    with stack.client() as admin:
        for change in ("revoke", "rotate"):
            client_id, key = stack.create_client()
            token = _token(stack, client_id, key).json()["access_token"]
            with _gateway(stack) as gw:
                assert gw.get("/v3/custom-models", headers=_bearer(token, client_id)).status_code == 200
                if change == "revoke":
                    assert admin.delete(f"/v1/admin/clients/{client_id}").status_code == 200
                else:
                    assert admin.post(f"/v1/admin/clients/{client_id}/rotate").status_code == 200
                refused = gw.get("/v3/custom-models", headers=_bearer(token, client_id))
                generate = gw.post("/v3/images/generate-async", json=BODY, headers=_bearer(token, client_id))
                status = gw.get("/v3/status/gen_x", headers=_bearer(token, client_id))
            assert refused.status_code == 401 and refused.json().keys() == {"reason", "message"}
            assert generate.status_code == 401 and generate.json()["error_code"] == "unauthorized"
            assert status.status_code == 401 and status.json()["error_code"] == "unauthorized"
            assert _token(stack, client_id, key).status_code == 401


def test_ims_refusals_are_oauth_errors(stack: Stack) -> None:
    client_id, key = stack.create_client()
    other_id, _ = stack.create_client()
    cases = [
        (
            {"grant_type": "password", "client_id": client_id, "client_secret": key},
            400,
            "invalid_request",
            "grant_type",
        ),
        (
            {"grant_type": "client_credentials", "client_id": client_id},
            400,
            "invalid_request",
            "client_secret",
        ),
        (
            {"grant_type": "client_credentials", "client_id": other_id, "client_secret": key},
            401,
            "invalid_client",
            "client_id",
        ),
        (
            {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "ffk_nope"},
            401,
            "invalid_client",
            "client_secret",
        ),
    ]
    with _gateway(stack) as gw:
        for params, status, error, names in cases:
            response = gw.post("/ims/token/v3", params=params)
            assert response.status_code == status, response.text
            assert response.json()["error"] == error and names in response.json()["error_description"]
        wrong_type = gw.post("/ims/token/v3", content=b"<x/>", headers={"content-type": "application/xml"})
    assert wrong_type.status_code == 415 and wrong_type.json()["error"] == "invalid_request"


def test_v3_refusals_have_fireflys_bodies(stack: Stack) -> None:
    _client_id, key = stack.create_client()
    headers = {"Authorization": f"Bearer {key}"}
    with _gateway(stack) as gw:
        bad_sort = gw.get("/v3/custom-models", params={"sortBy": "size"}, headers=headers)
        bad_size = gw.post(
            "/v3/images/generate-async",
            json={**BODY, "size": {"width": 1024, "height": 1024}},
            headers={**headers, "x-model-version": "image4_custom"},
        )
        bad_version = gw.post(
            "/v3/images/generate-async", json=BODY, headers={**headers, "x-model-version": "image4_ultra"}
        )
        no_concept = gw.post("/v3/images/generate-async", json={**BODY, "prompt": "a lamp"}, headers=headers)
        unknown = gw.get("/v3/status/gen_nobody", headers=headers)
        no_key = gw.get("/v3/status/gen_nobody")
    assert bad_sort.status_code == 400 and bad_sort.json() == {
        "reason": "Bad Request",
        "message": bad_sort.json()["message"],
    }
    assert "sortBy" in bad_sort.json()["message"]
    for response, loc, says in (
        (bad_size, ["body", "size"], "1024x1024"),
        (bad_version, ["header", "x-model-version"], ""),
        (no_concept, ["body", "prompt"], "router"),
    ):
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["error_code"] == "validation_error" and says in body["message"]
        assert body["validation_errors"][0]["loc"] == loc
    assert unknown.status_code == 404 and unknown.json() == {
        "error_code": "unknown_job_id",
        "message": "The job id is unknown.",
    }
    assert no_key.status_code == 401 and no_key.json()["error_code"] == "unauthorized"


def test_the_client_rate_limit_applies_with_fireflys_429(stack: Stack) -> None:
    client_id, key = stack.create_client(rateLimit={"requestsPerMinute": 2})
    token = _token(stack, client_id, key).json()["access_token"]  # the first request of the window
    with _gateway(stack) as gw:
        assert gw.get("/v3/custom-models", headers=_bearer(token, client_id)).status_code == 200
        limited = gw.get("/v3/status/gen_x", headers=_bearer(token, client_id))
    assert limited.status_code == 429
    assert limited.json()["error_code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1


def _stored(gw: httpx.Client, job_id: str, key: str) -> dict[str, Any]:
    """The generation once every output is in ffgate's store (only such a one answers a repeat)."""
    deadline = time.monotonic() + 30
    while True:
        generation: dict[str, Any] = gw.get(
            f"/v1/generations/{job_id}", headers={"Authorization": f"Bearer {key}"}
        ).json()
        if all(o["image"]["stored"] for o in generation["outputs"]):
            return generation
        assert time.monotonic() < deadline, generation
        time.sleep(0.2)


def test_a_repeated_seeded_job_is_answered_from_the_store_unless_no_cache(stack: Stack) -> None:
    client_id, key = stack.create_client()
    headers = _bearer(_token(stack, client_id, key).json()["access_token"], client_id)
    body = BODY | {"prompt": f"a white CitiSignal router, seeded {time.time_ns()}", "seeds": [31, 32]}
    with _gateway(stack) as gw:

        def generate(sent: dict[str, Any], **extra: str) -> tuple[str, dict[str, Any]]:
            accepted = gw.post("/v3/images/generate-async", json=sent, headers=headers | extra)
            assert accepted.status_code == 202, accepted.text
            job_id: str = accepted.json()["jobId"]
            return job_id, _poll(gw, job_id, headers)

        first, done = generate(body)
        assert done["status"] == "succeeded", done
        stored = _stored(gw, first, key)
        calls = stack.emu_stats()["requests"]["generate"]

        again, repeat = generate(body)
        assert repeat["status"] == "succeeded" and again != first
        assert stack.emu_stats()["requests"]["generate"] == calls  # no Firefly call
        reused = gw.get(f"/v1/generations/{again}", headers={"Authorization": f"Bearer {key}"}).json()
        assert reused["reused"] == {"from": first}
        fetched = [httpx.get(o["image"]["url"]).content for o in repeat["result"]["outputs"]]
        assert [hashlib.sha256(b).hexdigest() for b in fetched] == [
            o["image"]["sha256"] for o in stored["outputs"]
        ]

        # The body's extension and the header each force a fresh job at Firefly.
        for sent, extra in ((body | {"noCache": True}, {}), (body, {"Cache-Control": "no-cache"})):
            fresh, finished = generate(sent, **extra)
            assert finished["status"] == "succeeded", finished
            generation = gw.get(f"/v1/generations/{fresh}", headers={"Authorization": f"Bearer {key}"})
            assert generation.json().get("reused") is None
            calls += 1
            assert stack.emu_stats()["requests"]["generate"] == calls, extra
