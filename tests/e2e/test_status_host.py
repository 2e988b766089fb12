"""Firefly's statusUrl often names a regional host, not the API host: ffgate polls it exactly as given."""

from __future__ import annotations

from pathlib import Path

from emulator.seed import ROUTER_MODEL_ID
from tests.stack import Stack, wait_terminal


def test_status_url_on_another_host_is_polled_as_given(workdir: Path) -> None:
    stack = Stack(workdir)
    try:
        stack.start_emulator(public_host="localhost")  # the API stays on 127.0.0.1
        stack.start_gateway()
        stack.start_worker()
        with stack.client() as client:
            created = client.post(
                "/v1/generations", json={"prompt": "a router", "customModelId": ROUTER_MODEL_ID}
            ).json()
            done = wait_terminal(client, created["id"])
        assert done["status"] == "succeeded"
        assert done["outputs"][0]["image"]["upstreamUrl"].startswith("http://localhost:")
        record = stack.redis.hgetall(f"ffgate:gen:{created['id']}")
        assert record[b"statusUrl"].decode().startswith("http://localhost:")
        assert any(r["endpoint"] == "status" and r["status"] == 200 for r in stack.emu_requests())
    finally:
        stack.close()
