"""Hearing that a job finished: long-poll, `Prefer: wait`, server-sent events and signed webhooks."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from emulator.seed import ROUTER_MODEL_ID
from ffgate.config import Settings
from ffgate.webhooks.signing import admin_signing_secret
from tests.receiver import Receiver
from tests.stack import ADMIN_KEY, Stack, running_stack, wait_terminal

FAST_RETRIES = {"FFGATE_WEBHOOK_RETRY_DELAYS_S": "[0.5, 0.5, 0.5]", "FFGATE_WEBHOOK_RETRY_EVERY_S": "0.5"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"FFGATE_WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8", **FAST_RETRIES}
    with running_stack(tmp_path_factory.mktemp("delivery"), **env) as stack:
        yield stack


def body(**extra: Any) -> dict[str, Any]:
    return {"prompt": "a white router on a volcano", "customModelId": ROUTER_MODEL_ID, **extra}


def create(stack: Stack, **extra: Any) -> dict[str, Any]:
    with stack.client() as client:
        response = client.post("/v1/generations", json=body(**extra))
        assert response.status_code == 202, response.text
        created: dict[str, Any] = response.json()
        return created


def test_long_poll_returns_the_terminal_state(stack: Stack) -> None:
    gen_id = create(stack)["id"]
    with stack.client() as client:
        assert wait_terminal(client, gen_id)["status"] == "succeeded"


def test_prefer_wait_answers_200_with_the_finished_job(stack: Stack) -> None:
    with stack.client() as client:
        response = client.post("/v1/generations", json=body(), headers={"Prefer": "wait=20"})
    assert response.status_code == 200, response.text
    assert response.headers["preference-applied"] == "wait=20"
    assert response.json()["status"] == "succeeded"
    assert response.headers["location"] == f"/v1/generations/{response.json()['id']}"


def test_prefer_wait_too_short_answers_202(stack: Stack) -> None:
    tag = uuid.uuid4().hex
    with stack.emulator() as emu:
        emu.post("/_emulator/outcomes", json={"promptContains": tag, "outcome": "succeeded", "latencyS": 10})
    with stack.client() as client:
        started = time.monotonic()
        response = client.post(
            "/v1/generations", json=body(prompt=f"router {tag}"), headers={"Prefer": "wait=1"}
        )
    assert response.status_code == 202
    assert 0.9 <= time.monotonic() - started < 5
    assert response.json()["status"] in ("queued", "submitted", "running")


def test_server_sent_events_end_with_the_terminal_state(stack: Stack) -> None:
    gen_id = create(stack)["id"]
    events = []
    with (
        stack.client() as client,
        client.stream("GET", f"/v1/generations/{gen_id}/events") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        event: dict[str, str] = {}
        for line in response.iter_lines():
            if not line:
                if event:
                    events.append(event)
                event = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                event[name] = value
    statuses = [e["event"] for e in events]
    assert statuses[-1] == "succeeded"
    assert statuses[0] in ("queued", "submitted", "running")
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert json.loads(events[-1]["data"])["outputs"]

    # Resuming after the last event sends nothing again and ends at once (the job is terminal).
    with stack.client() as client:
        again = client.get(f"/v1/generations/{gen_id}/events", headers={"Last-Event-ID": str(ids[-1])})
    assert "event:" not in again.text
    # Without Last-Event-ID, the current (terminal) state comes first and last.
    with stack.client() as client:
        fresh = client.get(f"/v1/generations/{gen_id}/events")
    assert fresh.text.count("event: succeeded") == 1


def test_webhook_is_signed_and_verifiable_with_the_clients_secret(stack: Stack) -> None:
    with Receiver() as receiver:
        created = create(stack, webhook={"url": f"{receiver.url}/hooks/ffgate"})
        [request] = receiver.wait_for(1)
    secret = admin_signing_secret(Settings(admin_key=ADMIN_KEY))
    message = Webhook(secret).verify(request.body, request.headers)
    assert message["type"] == "generation.succeeded"
    assert message["data"]["id"] == created["id"]
    assert message["data"]["status"] == "succeeded"
    assert request.path == "/hooks/ffgate"
    assert request.headers["webhook-id"].startswith("msg_")
    with pytest.raises(Exception):  # noqa: B017 - any verification error will do
        Webhook("whsec_" + "A" * 43 + "=").verify(request.body, request.headers)
    with stack.client() as client:
        [attempt] = client.get(f"/v1/generations/{created['id']}/deliveries").json()["items"]
    assert attempt["statusCode"] == 200 and attempt["attempt"] == 1 and attempt["nextAttemptAt"] is None


def test_failing_receiver_gets_retries_with_the_same_webhook_id(stack: Stack) -> None:
    with Receiver() as receiver:
        receiver.answers.extend([500, 503])
        created = create(stack, webhook={"url": receiver.url})
        requests = receiver.wait_for(3)
        time.sleep(1.5)  # and no fourth
        assert len(receiver.received) == 3
    assert [r.answered for r in requests] == [500, 503, 200]
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    with stack.client() as client:
        items = client.get(f"/v1/generations/{created['id']}/deliveries").json()["items"]
    assert [(i["attempt"], i["statusCode"]) for i in items] == [(1, 500), (2, 503), (3, 200)]
    assert items[0]["nextAttemptAt"] and items[2]["nextAttemptAt"] is None


def test_410_stops_retries_and_redeliver_sends_the_last_event_again(stack: Stack) -> None:
    with Receiver() as receiver:
        receiver.answers.append(410)
        created = create(stack, webhook={"url": receiver.url, "events": ["generation.succeeded"]})
        receiver.wait_for(1)
        time.sleep(1.5)
        assert len(receiver.received) == 1
        with stack.client() as client:
            assert client.post(f"/v1/generations/{created['id']}/deliveries/redeliver").status_code == 202
        again = receiver.wait_for(2)
    assert again[0].headers["webhook-id"] == again[1].headers["webhook-id"]
    assert again[1].answered == 200


def test_events_chosen_by_the_job_are_the_ones_sent(stack: Stack) -> None:
    tag = uuid.uuid4().hex  # long enough a job that the worker sees it running
    with stack.emulator() as emu:
        emu.post("/_emulator/outcomes", json={"promptContains": tag, "outcome": "succeeded", "latencyS": 4})
    with Receiver() as receiver:
        events = ["generation.queued", "generation.running", "generation.succeeded"]
        create(stack, webhook={"url": receiver.url, "events": events}, prompt=f"router {tag}")
        receiver.wait_for(3)
        time.sleep(1.0)  # and nothing for `submitted`, which the job did not ask for
    kinds = sorted(json.loads(r.body)["type"] for r in receiver.received)
    assert kinds == sorted(events)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1", "[::1]", "localhost", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
        "100.64.0.1", "224.0.0.1", "0.0.0.0", "[::ffff:127.0.0.1]", "[fd00::1]", "[fe80::1]",
        "[::ffff:10.0.0.1]", "[ff02::1]",
    ],
)  # fmt: skip
def test_private_and_special_addresses_are_refused_at_submit(
    tmp_path: Path, host: str, refusing: Stack
) -> None:
    before = refusing.emu_stats()["requests"]["generate"]
    with refusing.client() as client:
        response = client.post("/v1/generations", json=body(webhook={"url": f"http://{host}:9/hook"}))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == ["body", "webhook", "url"]
    assert refusing.emu_stats()["requests"]["generate"] == before


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway with no allowed networks (and no worker: nothing here gets that far)."""
    stack = Stack(tmp_path_factory.mktemp("refusing"))
    try:
        stack.start_emulator()
        stack.start_gateway()
        yield stack
    finally:
        stack.close()


def test_a_name_resolving_to_a_private_address_is_refused_at_delivery(tmp_path: Path) -> None:
    # The gateway accepts loopback (as if DNS said "public" at submit time); the worker does not.
    stack = Stack(tmp_path)
    try:
        stack.start_emulator()
        stack.start_gateway(FFGATE_WEBHOOK_ALLOWED_CIDRS="127.0.0.0/8")
        stack.start_worker(FFGATE_WEBHOOK_ALLOWED_CIDRS="")
        with Receiver() as receiver:
            port = receiver.url.rpartition(":")[2]
            created = create(stack, webhook={"url": f"http://localhost:{port}/hook"})
            with stack.client() as client:
                assert wait_terminal(client, created["id"])["status"] == "succeeded"
                deadline = time.monotonic() + 10
                items: list[dict[str, Any]] = []
                while not items and time.monotonic() < deadline:
                    items = client.get(f"/v1/generations/{created['id']}/deliveries").json()["items"]
                    time.sleep(0.2)
            time.sleep(1.0)
            assert receiver.received == []
        [attempt] = items
        assert attempt["statusCode"] is None and "loopback" in attempt["error"]
        assert attempt["nextAttemptAt"] is None
    finally:
        stack.close()


def test_a_webhook_needs_an_absolute_http_url(stack: Stack) -> None:
    with stack.client() as client:
        for url in ("ftp://example.com/x", "/relative", "http://user:pw@127.0.0.1/x"):
            response = client.post("/v1/generations", json=body(webhook={"url": url}))
            assert response.status_code == 422, url


def test_unknown_event_names_are_refused(stack: Stack) -> None:
    with stack.client() as client:
        response = client.post(
            "/v1/generations", json=body(webhook={"url": "http://127.0.0.1:9/", "events": ["job.done"]})
        )
    assert response.status_code == 422


def test_no_webhook_means_409_on_redeliver(stack: Stack) -> None:
    gen_id = create(stack)["id"]
    with stack.client() as client:
        assert client.post(f"/v1/generations/{gen_id}/deliveries/redeliver").status_code == 409
        assert client.get(f"/v1/generations/{gen_id}/deliveries").json() == {"items": []}


def test_a_slow_receiver_does_not_hold_up_other_jobs(stack: Stack) -> None:
    with Receiver() as receiver:
        receiver.delay_s = 4.0
        slow = [create(stack, webhook={"url": receiver.url}) for _ in range(3)]
        with stack.client() as client:
            for created in slow:
                assert wait_terminal(client, created["id"])["status"] == "succeeded"
            started = time.monotonic()
            others = [create(stack)["id"] for _ in range(3)]
            for gen_id in others:
                assert wait_terminal(client, gen_id)["status"] == "succeeded"
            took = time.monotonic() - started
        receiver.wait_for(3)
    assert took < 4.0  # finished while the receiver was still sitting on its deliveries


def test_a_clients_webhooks_are_signed_with_its_own_secret(stack: Stack) -> None:
    with stack.client() as admin:
        response = admin.post("/v1/admin/clients", json={"name": "hooks", "scopes": ["generate"]})
        assert response.status_code == 201, response.text
        created_client = response.json()
    with Receiver() as receiver, stack.client(key=created_client["apiKey"]) as client:
        response = client.post("/v1/generations", json=body(webhook={"url": receiver.url}))
        assert response.status_code == 202, response.text
        [request] = receiver.wait_for(1)
    message = Webhook(created_client["webhookSecret"]).verify(request.body, request.headers)
    assert message["data"]["id"] == response.json()["id"]
    with pytest.raises(Exception):  # noqa: B017 - the admin's secret is not this client's
        Webhook(admin_signing_secret(Settings(admin_key=ADMIN_KEY))).verify(request.body, request.headers)
