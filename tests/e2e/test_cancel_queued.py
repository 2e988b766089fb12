"""A generation canceled before any worker took it is canceled at once and never reaches Firefly."""

from __future__ import annotations

import time
from pathlib import Path

from emulator.seed import ROUTER_MODEL_ID
from tests.stack import Stack


def test_cancel_while_queued_is_immediate_and_nothing_is_sent(workdir: Path) -> None:
    stack = Stack(workdir)
    try:
        stack.start_emulator()
        stack.start_gateway()  # no worker yet: the job stays queued
        with stack.client() as client:
            created = client.post(
                "/v1/generations", json={"prompt": "a router", "customModelId": ROUTER_MODEL_ID}
            ).json()
            assert created["status"] == "queued"
            response = client.post(f"/v1/generations/{created['id']}/cancel")
            assert response.status_code == 202
            assert response.json()["status"] == "canceled"
            assert response.json()["completedAt"]
            stack.start_worker()
            time.sleep(1.5)
            assert client.get(f"/v1/generations/{created['id']}").json()["status"] == "canceled"
            assert client.post(f"/v1/generations/{created['id']}/cancel").status_code == 409
        assert stack.emu_stats()["requests"]["generate"] == 0
    finally:
        stack.close()
