"""Readiness from what a process already knows: probes never each ask Adobe IMS for a token."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.stack import Stack, running_stack

pytestmark = pytest.mark.e2e
PROBES = 25


def token_calls(stack: Stack) -> int:
    return sum(1 for r in stack.emu_requests() if r["endpoint"] == "token")


def test_probes_make_no_token_call_each(workdir: Path) -> None:
    with running_stack(workdir, workers=0) as stack:
        url = stack.gateways["gateway"]
        for _ in range(PROBES):
            assert httpx.get(f"{url}/readyz").json() == {"status": "ok"}
        # The first probe found no token anywhere and fetched the deployment's one; the rest used it.
        assert token_calls(stack) == stack.emu_stats()["tokenRequests"] == 1
        second = stack.start_gateway("gateway-2")
        for _ in range(PROBES):
            assert httpx.get(f"{second}/readyz").status_code == 200
        assert token_calls(stack) == 1  # the second gateway found the shared token in Redis


def test_a_refused_credential_is_asked_about_once_a_minute_not_per_probe(workdir: Path) -> None:
    stack = Stack(workdir)
    try:
        stack.start_emulator()
        url = stack.start_gateway(FFGATE_ADOBE_CLIENT_SECRET="not-the-secret-0f9e8d7c")
        for _ in range(PROBES):
            ready = httpx.get(f"{url}/readyz")
            assert ready.status_code == 503
            assert "refused" in ready.json()["detail"]
        assert token_calls(stack) == 1
    finally:
        stack.close()
