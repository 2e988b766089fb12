"""One IMS token for the whole deployment: gateway and workers share it through Redis."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from emulator.seed import ROUTER_MODEL_ID
from tests.stack import running_stack, wait_terminal


def test_one_token_request_for_fifty_concurrent_first_requests(workdir: Path) -> None:
    with running_stack(workdir, workers=2) as stack:
        assert stack.emu_stats()["tokenRequests"] == 0
        url = stack.gateways["gateway"]
        headers = {"Authorization": f"Bearer {stack.env['FFGATE_ADMIN_KEY']}"}
        body = {"prompt": "a white router on a volcano in Africa", "customModelId": ROUTER_MODEL_ID}

        def first_request(i: int) -> httpx.Response:
            # Half need a token for the model list, half for readiness; the workers need one to submit.
            if i % 2:
                return httpx.get(f"{url}/readyz", timeout=30)
            return httpx.post(f"{url}/v1/generations", json=body, headers=headers, timeout=30)

        with ThreadPoolExecutor(max_workers=50) as pool:
            responses = list(pool.map(first_request, range(50)))
        assert {r.status_code for r in responses} <= {200, 202}, [r.text for r in responses]

        with stack.client() as client:
            for response in responses:
                if response.status_code == 202:
                    assert wait_terminal(client, response.json()["id"])["status"] == "succeeded"
        stats = stack.emu_stats()
        assert stats["tokenRequests"] == 1
        assert stats["requests"]["generate"] == 25
        # Every process needed a token; exactly one fetched it, the others took it from Redis.
        logs = [stack.log(name) for name in ("gateway", "worker-1", "worker-2")]
        assert sum(log.count("fetched a new IMS token") for log in logs) == 1
        assert all("fetched a new IMS token" in log or "using the shared IMS token" in log for log in logs)
