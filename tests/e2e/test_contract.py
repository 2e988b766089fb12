"""HTTP conventions of API.md: problem+json everywhere, X-Request-ID end to end, nothing queued or sent
upstream for a request the gateway refuses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emulator.seed import ROUTER_MODEL_ID, STYLE_MODEL_ID
from tests.stack import ADMIN_KEY, Stack, wait_terminal

PROBLEM_FIELDS = {"type", "title", "status", "detail", "requestId"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["requestId"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


def generate_calls(stack: Stack) -> int:
    calls: int = stack.emu_stats()["requests"]["generate"]
    return calls


def record_count(stack: Stack) -> int:
    return len(list(stack.redis.scan_iter("ffgate:gen:*")))


VALID = {"prompt": "a white router on a volcano in Africa", "customModelId": ROUTER_MODEL_ID}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customModelId": ROUTER_MODEL_ID}, "prompt"),
        ({**VALID, "prompt": ""}, "prompt"),
        ({**VALID, "prompt": "x" * 1025}, "prompt"),
        ({**VALID, "numVariations": 5}, "numVariations"),
        ({**VALID, "numVariations": 2, "seeds": [1, 2, 3]}, "seeds"),
        ({**VALID, "size": {"width": 1000, "height": 1000}}, "size"),
        ({**VALID, "contentClass": "painting"}, "contentClass"),
        ({**VALID, "metadata": {"blob": "x" * 5000}}, "metadata"),
        ({**VALID, "unknownField": 1}, "unknownField"),
    ],
)
def test_invalid_generation_is_refused_before_anything_is_queued(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    before_calls, before_records = generate_calls(stack), record_count(stack)
    with stack.client() as client:
        problem = assert_problem(client.post("/v1/generations", json=body), 422)
    assert problem["errors"], problem
    assert all({"loc", "msg"} <= e.keys() for e in problem["errors"])
    assert field in problem["detail"] or any(field in str(e) for e in problem["errors"])
    assert generate_calls(stack) == before_calls
    assert record_count(stack) == before_records


def test_unknown_model_is_named_in_a_422(stack: Stack) -> None:
    before_calls = generate_calls(stack)
    with stack.client() as client:
        missing = "urn:aaid:sc:VA6C2:00000000-0000-0000-0000-000000000000"
        problem = assert_problem(
            client.post("/v1/generations", json={**VALID, "customModelId": missing}), 422
        )
    assert missing in problem["detail"]
    assert problem["errors"][0]["loc"] == ["body", "customModelId"]
    assert generate_calls(stack) == before_calls


def test_malformed_json_wrong_type_and_oversized_body(stack: Stack) -> None:
    before_calls, before_records = generate_calls(stack), record_count(stack)
    with stack.client() as client:
        headers = {"content-type": "application/json"}
        assert_problem(client.post("/v1/generations", content=b'{"prompt": ', headers=headers), 400)
        assert_problem(
            client.post("/v1/generations", content=b"prompt=x", headers={"content-type": "text/plain"}), 415
        )
        big = b'{"prompt": "' + b"x" * (65 * 1024) + b'"}'
        assert_problem(client.post("/v1/generations", content=big, headers=headers), 413)

        def chunks() -> Any:  # no Content-Length: the limit still holds on the bytes that arrive
            yield b'{"prompt": "'
            for _ in range(70):
                yield b"x" * 1024
            yield b'"}'

        assert_problem(client.post("/v1/generations", content=chunks(), headers=headers), 413)
    assert generate_calls(stack) == before_calls
    assert record_count(stack) == before_records


def test_auth_errors_and_unknown_routes_are_problems(stack: Stack) -> None:
    url = stack.gateways["gateway"]
    assert_problem(httpx.get(f"{url}/v1/custom-models"), 401)
    assert_problem(httpx.get(f"{url}/v1/custom-models", headers={"Authorization": "Bearer nope"}), 401)
    assert_problem(httpx.get(f"{url}/v1/nothing-here"), 404)
    assert_problem(httpx.delete(f"{url}/v1/generations"), 405)
    with stack.client() as client:
        assert_problem(client.get("/v1/generations/gen_doesnotexist"), 404)
        assert_problem(client.get("/v1/generations/gen_x", params={"wait": 61}), 422)


def test_request_id_is_echoed_and_reaches_firefly(stack: Stack) -> None:
    request_id = "trace-4f1c2b-e2e"
    with stack.client() as client:
        response = client.post("/v1/generations", json=VALID, headers={"X-Request-ID": request_id})
        assert response.headers["x-request-id"] == request_id
        done = wait_terminal(client, response.json()["id"])
        generated = client.get("/healthz")
    assert done["status"] == "succeeded"
    assert len(generated.headers["x-request-id"]) >= 16  # generated when not sent
    calls = [r for r in stack.emu_requests() if r["requestId"] == request_id]
    endpoints = {r["endpoint"] for r in calls}
    assert {"generate", "status"} <= endpoints
    assert request_id in stack.log("worker-1")


def test_health_ready_and_metrics(stack: Stack) -> None:
    url = stack.gateways["gateway"]
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{url}/readyz").status_code == 200
    metrics = httpx.get(f"{url}/metrics")
    assert metrics.status_code == 200
    assert "ffgate_http_requests_total" in metrics.text


def test_negative_prompt_on_a_style_model_is_accepted_with_a_warning_and_not_sent(stack: Stack) -> None:
    """Adobe: not supported for custom models on Image 3 or 4 (per version: test_model_versions.py)."""
    with stack.client() as client:
        body = {"prompt": "a skyline", "customModelId": STYLE_MODEL_ID, "negativePrompt": "fog"}
        created = client.post("/v1/generations", json=body).json()
    assert any("negativePrompt" in w for w in created["warnings"])
    assert "negativePrompt" not in created["request"]


def test_secrets_never_reach_logs_or_responses(stack: Stack) -> None:
    with stack.client() as client:
        client.post("/v1/generations", json=VALID)
        responses = [
            client.get("/v1/custom-models").text,
            httpx.get(f"{stack.gateways['gateway']}/readyz").text,
        ]
    with stack.emulator() as emu:
        tokens = [r for r in emu.get("/_emulator/requests", params={"since": 0}).json()["items"]]
    assert tokens  # the emulator saw traffic
    cached = stack.redis.get(next(iter(stack.redis.scan_iter("ffgate:ims:token:*"))))
    assert cached
    token = cached.decode()
    logs = stack.all_logs()
    for secret in (token, stack.env["FFGATE_ADOBE_CLIENT_SECRET"], ADMIN_KEY):
        assert secret not in logs
        assert all(secret not in text for text in responses)
