"""How ffgate rides out what Firefly and IMS do: terminal states, cancels, 429s, 5xx, revoked tokens."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from emulator.seed import ROUTER_MODEL_ID
from tests.stack import Stack, wait_terminal


def generate(stack: Stack, prompt: str, **extra: Any) -> dict[str, Any]:
    """POST a generation with a fresh X-Request-ID (returned as `requestId`) to find its upstream calls."""
    request_id = uuid.uuid4().hex
    with stack.client() as client:
        response = client.post(
            "/v1/generations",
            json={"prompt": prompt, "customModelId": ROUTER_MODEL_ID, **extra},
            headers={"X-Request-ID": request_id},
        )
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body | {"requestId": request_id}


def upstream_calls(stack: Stack, created: dict[str, Any], endpoint: str) -> list[dict[str, Any]]:
    return [
        r
        for r in stack.emu_requests()
        if r["requestId"] == created["requestId"] and r["endpoint"] == endpoint
    ]


def outcome(stack: Stack, **rule: Any) -> None:
    with stack.emulator() as emu:
        assert emu.post("/_emulator/outcomes", json=rule).status_code == 200


def fault(stack: Stack, **spec: Any) -> None:
    with stack.emulator() as emu:
        response = emu.post("/_emulator/faults", json=spec)
        assert response.status_code == 200, response.text


def finish(stack: Stack, gen_id: str, timeout_s: float = 60) -> dict[str, Any]:
    with stack.client() as client:
        return wait_terminal(client, gen_id, timeout_s)


@pytest.mark.parametrize(
    ("firefly_outcome", "status", "code", "retryable"),
    [
        ("failed", "failed", "prompt_unsafe", False),
        ("timeout", "failed", "timeout_error", True),
        ("cancelled", "canceled", None, None),
    ],
)
def test_firefly_terminal_states_are_mapped(
    stack: Stack, firefly_outcome: str, status: str, code: str | None, retryable: bool | None
) -> None:
    tag = uuid.uuid4().hex
    outcome(stack, promptContains=tag, outcome=firefly_outcome, errorCode=code, message="upstream says no")
    done = finish(stack, generate(stack, f"router {tag}")["id"])
    assert done["status"] == status
    assert done["completedAt"]
    if code is None:
        assert done["outputs"] == []
    else:
        assert done["error"] == {"code": code, "message": "upstream says no", "retryable": retryable}


def test_cancel_reaches_firefly_and_a_finished_job_cannot_be_cancelled(stack: Stack) -> None:
    tag = uuid.uuid4().hex
    outcome(stack, promptContains=tag, outcome="succeeded", latencyS=30)
    created = generate(stack, f"router {tag}")
    with stack.client() as client:
        running = client.get(
            f"/v1/generations/{created['id']}", params={"wait": 10, "since": "queued"}
        ).json()
        assert running["status"] in ("submitted", "running")
        response = client.post(f"/v1/generations/{created['id']}/cancel")
        assert response.status_code == 202
        done = wait_terminal(client, created["id"], 20)
        assert done["status"] == "canceled"
        again = client.post(f"/v1/generations/{created['id']}/cancel")
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
    cancels = [r for r in stack.emu_requests() if r["endpoint"] == "cancel"]
    assert any(r["jobId"] == done["upstream"]["jobId"] for r in cancels)


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_on_submit_waits_for_retry_after(stack: Stack, form: str) -> None:
    fault(stack, endpoint="generate", status=429, count=1, retryAfterS=2, retryAfterFormat=form)
    created = generate(stack, "router in the rain")
    done = finish(stack, created["id"])
    assert done["status"] == "succeeded"
    generates = upstream_calls(stack, created, "generate")
    refused = [r for r in generates if r["status"] == 429]
    accepted = [r for r in generates if r["status"] == 202]
    assert len(refused) == 1 and accepted
    # An HTTP-date has whole-second precision, so allow for the rounding.
    assert accepted[0]["at"] - refused[0]["at"] >= 1.0


def test_429_and_5xx_on_status_are_ridden_out(stack: Stack) -> None:
    fault(stack, endpoint="status", status=503, count=3)
    fault(stack, endpoint="status", status=429, count=1, retryAfterS=1)
    created = generate(stack, "router on a glacier")
    done = finish(stack, created["id"])
    assert done["status"] == "succeeded"
    statuses = [r["status"] for r in upstream_calls(stack, created, "status")]
    assert 503 in statuses and 429 in statuses


@pytest.mark.parametrize("status", [500, 503, 408])
def test_a_5xx_or_408_to_a_submit_fails_it_unknown_and_it_is_never_resent(stack: Stack, status: int) -> None:
    """None of them proves Firefly made no job (ffgate.upstream.firefly.proves_not_taken)."""
    fault(stack, endpoint="generate", status=status, count=1)
    created = generate(stack, f"router by the sea {status}")
    done = finish(stack, created["id"])
    assert done["status"] == "failed"
    assert (done["error"]["code"], done["error"]["retryable"]) == ("upstream_outcome_unknown", True)
    time.sleep(1.5)  # past the submit back-off a resend would have waited
    assert [r["status"] for r in upstream_calls(stack, created, "generate")] == [status]


def test_submit_that_times_out_is_failed_not_resent(stack: Stack) -> None:
    # The emulator answers after the gateway's upstream timeout (5 s in tests). Had ffgate sent the job
    # again, the second POST (the fault is used up) would have succeeded.
    fault(stack, endpoint="generate", status=None, count=1, delayS=7)
    created = generate(stack, "router in the fog")
    done = finish(stack, created["id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "upstream_outcome_unknown"
    assert done["error"]["retryable"] is True
    time.sleep(2.5)  # past the emulator's delay
    assert len(upstream_calls(stack, created, "generate")) <= 1


def test_recovers_after_the_emulator_revokes_tokens(stack: Stack) -> None:
    assert finish(stack, generate(stack, "router before")["id"])["status"] == "succeeded"
    before = stack.emu_stats()["tokenRequests"]
    with stack.emulator() as emu:
        emu.post("/_emulator/tokens/revoke")
    assert finish(stack, generate(stack, "router after")["id"])["status"] == "succeeded"
    after = stack.emu_stats()["tokenRequests"]
    assert after > before
    unauthorized = [r for r in stack.emu_requests() if r["status"] == 401]
    assert unauthorized  # Firefly refused the old token once, and ffgate fetched a new one


def test_status_404_fails_the_job(stack: Stack) -> None:
    tag = uuid.uuid4().hex
    outcome(stack, promptContains=tag, outcome="succeeded", latencyS=30)
    created = generate(stack, f"router {tag}")
    with stack.client() as client:
        client.get(f"/v1/generations/{created['id']}", params={"wait": 10, "since": "queued"})
    fault(stack, endpoint="status", status=404, count=1)
    done = finish(stack, created["id"])
    assert done["status"] == "failed"
    assert done["error"]["retryable"] is False
