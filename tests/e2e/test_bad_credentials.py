"""A gateway whose Adobe credential IMS refuses says so, without the secret, and is not ready."""

from __future__ import annotations

from pathlib import Path

import httpx

from emulator.seed import ROUTER_MODEL_ID
from tests.stack import Stack, free_port

WRONG_SECRET = "not-the-secret-0f9e8d7c"


def test_refused_credential_makes_readyz_and_models_answer_503(workdir: Path) -> None:
    stack = Stack(workdir)
    try:
        stack.start_emulator()
        stack.start_gateway(FFGATE_ADOBE_CLIENT_SECRET=WRONG_SECRET)
        url = stack.gateways["gateway"]
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        assert "credential" in ready.json()["detail"]
        with stack.client() as client:
            models = client.get("/v1/custom-models")
        assert models.status_code == 503
        assert models.headers["content-type"] == "application/problem+json"
        for text in (ready.text, models.text, stack.all_logs()):
            assert WRONG_SECRET not in text
        assert stack.emu_stats()["requests"]["models"] == 0
    finally:
        stack.close()


def test_gateway_without_redis_is_alive_but_not_ready(workdir: Path) -> None:
    stack = Stack(workdir)
    try:
        stack.start_emulator()
        nowhere = f"redis://127.0.0.1:{free_port()}/0"
        stack.start_gateway(FFGATE_REDIS_URL=nowhere)
        url = stack.gateways["gateway"]
        assert httpx.get(f"{url}/healthz").status_code == 200
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 503
        assert "Redis" in ready.json()["detail"]
        with stack.client() as client:
            created = client.post(
                "/v1/generations", json={"prompt": "a router", "customModelId": ROUTER_MODEL_ID}
            )
        assert created.status_code == 503
        assert created.headers["content-type"] == "application/problem+json"
        assert "Traceback" not in created.text
    finally:
        stack.close()
