"""The client library (clients/python, `ffgate_client`) against a real stack: emulator, gateway and worker
processes over loopback. Where the network has to misbehave, a scripted proxy (tests.client_library.proxy)
sits between the client and the gateway; 429s come from the gateway's own rate limit."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ffgate_client as ffc
import httpx
import pytest
from ffgate_client import AsyncClient, Client, RetryPolicy, verify_webhook
from PIL import Image

from emulator.seed import ROUTER_MODEL_ID
from ffgate.config import Settings
from ffgate.redis.keys import Keys
from tests.client_library.proxy import Fault, Proxy
from tests.receiver import Receiver
from tests.stack import ADMIN_KEY, Stack, free_port, running_stack

pytestmark = pytest.mark.e2e
ROUTER = "Citi Signal Router Model"
FAST = RetryPolicy(attempts=4, backoff_s=0.05, max_backoff_s=0.2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("client"), FFGATE_WEBHOOK_ALLOWED_CIDRS="127.0.0.0/8"
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def caller(stack: Stack) -> tuple[str, str, str]:
    """An API client of the gateway, as an internal service would have: (id, API key, webhook secret)."""
    with stack.client() as admin:
        response = admin.post(
            "/v1/admin/clients", json={"name": "client-library", "rateLimit": {"requestsPerMinute": 1000}}
        )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], body["apiKey"], body["webhookSecret"]


@pytest.fixture
def ff(stack: Stack, caller: tuple[str, str, str]) -> Iterator[Client]:
    with Client(stack.gateways["gateway"], caller[1], retry=FAST) as client:
        yield client


@pytest.fixture(autouse=True)
def _clean_emulator(stack: Stack) -> Iterator[None]:
    yield
    with stack.emulator() as emu:
        emu.delete("/_emulator/outcomes")


def tag() -> str:
    return uuid.uuid4().hex[:12]


def slow(stack: Stack, marker: str, latency_s: float) -> None:
    """Jobs whose prompt holds `marker` take `latency_s` at the emulator."""
    with stack.emulator() as emu:
        rule = {"promptContains": marker, "outcome": "succeeded", "latencyS": latency_s}
        assert emu.post("/_emulator/outcomes", json=rule).status_code == 200


def upstream_jobs(stack: Stack, marker: str) -> list[dict[str, Any]]:
    with stack.emulator() as emu:
        return [job for job in emu.get("/_emulator/jobs").json() if marker in job["prompt"]]


def assert_images(paths: list[Path], generation: ffc.Generation) -> None:
    assert len(paths) == len(generation.outputs) == 2
    for path, output in zip(paths, generation.outputs, strict=True):
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            image.load()
            # The emulator draws small pictures (its max side is capped in tests) of the asked shape.
            assert image.format == "JPEG" and image.width == image.height > 0
        assert output.image.content_type == "image/jpeg"
    assert sorted(p.name for p in paths[0].parent.iterdir()) == sorted(p.name for p in paths)  # no leftovers


# --- the happy path -------------------------------------------------------------------------------------


def test_generate_wait_and_download_two_images(ff: Client, tmp_path: Path) -> None:
    marker = tag()
    generation = ff.generate(f"a white router on a volcano in Africa {marker}", model=ROUTER, n=2)
    assert generation.status == "queued" and generation.request["customModelId"] == ROUTER_MODEL_ID
    assert generation.request["numVariations"] == 2
    done = ff.wait(generation, timeout=60).raise_for_status()
    assert done.status == "succeeded" and len(done.outputs) == 2
    paths = ff.download(done, tmp_path / "out")
    assert [p.name for p in paths] == [f"{done.id}-1.jpg", f"{done.id}-2.jpg"]
    assert_images(paths, done)
    assert ff.get(done.id).status == "succeeded"
    assert any(g.id == done.id for g in ff.list(status="succeeded"))


@pytest.mark.anyio
async def test_the_async_client_does_the_same(
    stack: Stack, caller: tuple[str, str, str], tmp_path: Path
) -> None:
    progress: list[ffc.DownloadProgress] = []
    async with AsyncClient(stack.gateways["gateway"], caller[1], retry=FAST) as ff:
        assert any(m.asset_id == ROUTER_MODEL_ID for m in await ff.models(training_mode="subject"))
        assert (await ff.model(ROUTER_MODEL_ID)).display_name == ROUTER
        generation = await ff.generate(f"a router on a desk {tag()}", model=ROUTER_MODEL_ID, seeds=[11, 22])
        done = await ff.wait(generation.id, timeout=60)
        assert done.status == "succeeded" and [o.seed for o in done.outputs] == [11, 22]
        paths = await ff.download(done, tmp_path, template="{seed}.{ext}", progress=progress.append)
        assert [p.name for p in paths] == ["11.jpg", "22.jpg"]
        assert_images(paths, done)
        assert [p.path for p in progress if p.done] == paths
        assert all(p.total == p.path.stat().st_size for p in progress if p.done)
        seen = [g.id async for g in ff.list(page_size=1)]
        assert done.id in seen and len(seen) == len(set(seen))


def test_pages_follow_the_cursor(ff: Client) -> None:
    for _ in range(3):
        ff.generate(f"a router {tag()}", model=ROUTER_MODEL_ID)
    pages = list(ff.pages(page_size=2))
    assert len(pages) >= 2 and all(len(p.items) <= 2 for p in pages)
    assert pages[-1].next_cursor is None
    ids = [g.id for p in pages for g in p.items]
    assert ids == [g.id for g in ff.list(page_size=50)]


# --- server-sent events ---------------------------------------------------------------------------------


def test_events_resume_with_last_event_id(stack: Stack, ff: Client) -> None:
    marker = tag()
    slow(stack, marker, 2.5)
    generation = ff.generate(f"a router {marker}", model=ROUTER)
    stream = ff.events(generation)
    first = next(stream)
    stream.close()  # the caller goes away after one event ...
    assert first.event == first.generation.status and first.generation.id == generation.id
    rest = list(ff.events(generation.id, last_event_id=first.id))  # ... and comes back for the rest
    ids = [int(e.id) for e in rest]
    assert ids == sorted(ids) and ids[0] > int(first.id)
    assert rest[-1].event == "succeeded" and rest[-1].generation.outputs
    statuses = [first.event, *(e.event for e in rest)]
    assert len(statuses) == len(set(statuses))  # no event twice


def test_a_dropped_event_stream_is_resumed_where_it_stopped(
    stack: Stack, caller: tuple[str, str, str]
) -> None:
    marker = tag()
    slow(stack, marker, 2.5)
    with Proxy(stack.gateways["gateway"]) as proxy, Client(proxy.url, caller[1], retry=FAST) as ff:
        generation = ff.generate(f"a router {marker}", model=ROUTER)
        path = f"/v1/generations/{generation.id}/events"
        proxy.add(Fault("GET", path, "cut-after-events", events=1))
        events = list(ff.events(generation))
        connections = proxy.requests("GET", path)
    assert events[0].event in ("queued", "submitted", "running")
    assert events[-1].event == "succeeded"
    assert len({e.id for e in events}) == len(events)
    assert len(connections) >= 2
    assert "last-event-id" not in connections[0].headers
    assert connections[1].headers["last-event-id"] == events[0].id


# --- retries that never make a second generation --------------------------------------------------------


def test_a_429_of_the_gateway_is_waited_out_without_a_second_generation(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    client_id, key = stack.create_client(rateLimit={"requestsPerMinute": 1})
    url = stack.gateways["gateway"]
    marker = tag()
    with Client(url, key, retry=RetryPolicy(attempts=1)) as ff:
        assert ff.models()  # the one request of this minute
        with pytest.raises(ffc.RateLimited) as refused:
            ff.generate(f"a router {marker}", model=ROUTER_MODEL_ID)
    problem = refused.value.problem
    assert (problem.status, problem.type) == (429, "urn:ffgate:problem:rate-limited")
    assert problem.request_id and refused.value.retry_after_s is not None and refused.value.retry_after_s > 50
    # Age the counted request so the window frees in ~3 s, rather than wait a minute.
    window = Keys(Settings(admin_key=ADMIN_KEY).redis_prefix).client_window(client_id)
    members: list[tuple[bytes, float]] = stack.redis.zrange(window, 0, -1, withscores=True)  # type: ignore[assignment]
    stack.redis.zadd(window, {member: time.time() * 1000 - 57_000 for member, _ in members})
    caplog.set_level(logging.WARNING, logger="ffgate_client")
    with Client(url, key) as ff:  # the default policy: honours Retry-After up to 60 s
        started = time.monotonic()
        generation = ff.generate(f"a router {marker}", model=ROUTER_MODEL_ID)
        waited = time.monotonic() - started
    retries = [r.getMessage() for r in caplog.records if r.name == "ffgate_client"]
    assert len(retries) == 1 and "POST /v1/generations: 429" in retries[0]
    assert 1.5 < waited < 10
    with stack.client() as admin:
        raised = admin.patch(f"/v1/admin/clients/{client_id}", json={"rateLimit": {"requestsPerMinute": 100}})
        assert raised.status_code == 200
    with Client(url, key) as ff:
        assert [g.id for g in ff.list()] == [generation.id]
        assert ff.wait(generation, timeout=60).status == "succeeded"
    assert len(upstream_jobs(stack, marker)) == 1


def test_a_lost_answer_and_a_503_are_retried_with_the_same_idempotency_key(
    stack: Stack, caller: tuple[str, str, str]
) -> None:
    marker = tag()
    retry_after = {"Retry-After": "1", "Content-Type": "application/problem+json"}
    problem = (
        b'{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"busy","requestId":"p"}'
    )
    with Proxy(stack.gateways["gateway"]) as proxy, Client(proxy.url, caller[1], retry=FAST) as ff:
        # The gateway gets the first submit and queues it; its answer is lost (the connection drops), then
        # the second submit is answered 503 with Retry-After; the third goes through.
        proxy.add(Fault("POST", "/v1/generations", "forward-then-drop"))
        proxy.add(
            Fault(
                "POST",
                "/v1/generations",
                "forward-then-answer",
                status=503,
                headers=retry_after,
                body=problem,
            )
        )
        started = time.monotonic()
        generation = ff.generate(f"a router {marker}", model=ROUTER_MODEL_ID, metadata={"order": 7})
        waited = time.monotonic() - started
        submits = proxy.requests("POST", "/v1/generations")
        assert ff.wait(generation, timeout=60).status == "succeeded"
    assert [s.fault for s in submits] == ["forward-then-drop", "forward-then-answer", None]
    keys = {s.headers["idempotency-key"] for s in submits}
    assert len(keys) == 1 and keys.pop().startswith("ffc-")
    assert [s.upstream_status for s in submits] == [202, 202, 202]
    assert [s.upstream_headers.get("idempotent-replayed") for s in submits] == [None, "true", "true"]
    first = httpx.Response(202, content=submits[0].upstream_body).json()
    assert first["id"] == generation.id and generation.metadata == {"order": 7}
    assert waited >= 1.0  # the Retry-After of the 503
    assert len(upstream_jobs(stack, marker)) == 1


def test_a_gateway_that_does_not_answer_is_one_typed_error(caller: tuple[str, str, str]) -> None:
    with Client(f"http://127.0.0.1:{free_port()}", caller[1], retry=FAST) as ff:
        started = time.monotonic()
        with pytest.raises(ffc.GatewayUnreachable, match="ConnectError"):
            ff.models()
    assert time.monotonic() - started < 5


# --- errors ---------------------------------------------------------------------------------------------


def test_errors_are_typed_and_carry_the_problem(stack: Stack, ff: Client) -> None:
    url = stack.gateways["gateway"]
    with Client(url, "ffk_not_a_key", retry=FAST) as stranger, pytest.raises(ffc.AuthenticationError) as auth:
        stranger.models()
    assert auth.value.status == 401 and auth.value.type == "urn:ffgate:problem:unauthorized"
    assert auth.value.request_id and isinstance(auth.value, ffc.RequestRefused)

    with pytest.raises(ffc.ModelNotFound, match="Nope Model"):
        ff.generate("a router", model="Nope Model")
    with pytest.raises(ffc.ModelNotFound) as unknown_id:
        ff.generate("a router", model="urn:aaid:sc:VA6C2:00000000-0000-0000-0000-000000000000")
    assert unknown_id.value.problem is not None and unknown_id.value.problem.status == 422
    with pytest.raises(ffc.ModelNotFound):
        ff.model("urn:aaid:sc:VA6C2:00000000-0000-0000-0000-000000000000")

    with pytest.raises(ffc.InvalidRequest) as invalid:
        ff.generate("x" * 1100, model=ROUTER_MODEL_ID)
    assert invalid.value.problem.errors and invalid.value.problem.errors[0]["loc"][-1] == "prompt"
    with pytest.raises(ffc.NotFound):
        ff.get("gen_does_not_exist")
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        ff.generate("a router", model=ROUTER_MODEL_ID, size="big")

    done = ff.wait(ff.generate(f"a router {tag()}", model=ROUTER_MODEL_ID), timeout=60)
    with pytest.raises(ffc.Conflict) as conflict:
        ff.cancel(done)
    assert conflict.value.status == 409


def test_cancel_wait_timeout_and_raise_for_status(stack: Stack, ff: Client) -> None:
    marker = tag()
    slow(stack, marker, 30)
    generation = ff.generate(f"a router {marker}", model=ROUTER_MODEL_ID)
    started = time.monotonic()
    with pytest.raises(ffc.WaitTimeout) as timeout:
        ff.wait(generation, timeout=1.5)
    assert 1.0 < time.monotonic() - started < 6
    assert timeout.value.generation.id == generation.id and not timeout.value.generation.terminal
    ff.cancel(generation)
    canceled = ff.wait(generation, timeout=30)
    assert canceled.status == "canceled"
    with pytest.raises(ffc.GenerationCanceled):
        canceled.raise_for_status()
    assert generation.id in [g.id for g in ff.list(status="canceled")]

    failing = tag()
    with stack.emulator() as emu:
        emu.post(
            "/_emulator/outcomes", json={"promptContains": failing, "outcome": "failed", "errorCode": "boom"}
        )
    failed = ff.wait(ff.generate(f"a router {failing}", model=ROUTER_MODEL_ID), timeout=60)
    with pytest.raises(ffc.GenerationFailed, match="boom"):
        failed.raise_for_status()


# --- downloads ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(stack: Stack, caller: tuple[str, str, str]) -> ffc.Generation:
    with Client(stack.gateways["gateway"], caller[1]) as ff:
        return ff.wait(ff.generate(f"a router {tag()}", model=ROUTER_MODEL_ID, n=2), timeout=60)


def test_downloads_are_checked_against_the_announced_size_and_sha256(
    ff: Client, finished: ffc.Generation, tmp_path: Path
) -> None:
    bodies = [httpx.get(o.image.url).content for o in finished.outputs]

    def announcing(size: int | None, sha256: str | None, index: int = 0) -> ffc.Generation:
        output = finished.outputs[index]
        image = output.image.model_copy(update={"size": size, "sha256": sha256})
        return finished.model_copy(update={"outputs": [output.model_copy(update={"image": image})]})

    right = announcing(len(bodies[0]), hashlib.sha256(bodies[0]).hexdigest())
    [path] = ff.download(right, tmp_path / "right")
    assert path.read_bytes() == bodies[0]

    for wrong in (announcing(len(bodies[0]), "0" * 64), announcing(len(bodies[0]) + 1, None)):
        target = tmp_path / "wrong"
        with pytest.raises(ffc.IntegrityError):
            ff.download(wrong, target)
        assert list(target.iterdir()) == []  # neither the final name nor a temporary one

    output = finished.outputs[0]
    forged = output.image.model_copy(
        update={"url": output.image.url.replace("X-Amz-Signature=", "X-Amz-Signature=0")}
    )
    refused = finished.model_copy(update={"outputs": [output.model_copy(update={"image": forged})]})
    with pytest.raises(ffc.DownloadError, match="403") as forbidden:
        ff.download(refused, tmp_path / "forged")
    assert forbidden.value.problem is not None and forbidden.value.problem.status == 403
    assert list((tmp_path / "forged").iterdir()) == []


def test_an_interrupted_download_is_retried_and_never_left_partial(
    stack: Stack, caller: tuple[str, str, str], finished: ffc.Generation, tmp_path: Path
) -> None:
    with Proxy(stack.emulator_url) as proxy, Client(stack.gateways["gateway"], caller[1], retry=FAST) as ff:
        moved = rerouted(finished, stack.emulator_url, proxy.url)
        image_path = httpx.URL(moved.outputs[0].image.url).path
        proxy.add(Fault("GET", image_path, "truncate", times=1))
        paths = ff.download(moved, tmp_path / "once")
        assert_images(paths, finished)
        assert len(proxy.requests("GET", image_path)) == 2  # cut short once, then fetched again

        proxy.add(Fault("GET", image_path, "truncate", times=100))
        with pytest.raises(ffc.DownloadError, match="interrupted") as interrupted:
            ff.download(moved, tmp_path / "never")
        assert "X-Amz" not in str(interrupted.value)  # a presigned URL's query is a credential
        assert list((tmp_path / "never").iterdir()) == []


def rerouted(generation: ffc.Generation, old: str, new: str) -> ffc.Generation:
    """The generation with its output URLs moved from `old` to `new` (a proxy in front of the emulator)."""
    outputs = [
        o.model_copy(update={"image": o.image.model_copy(update={"url": o.image.url.replace(old, new)})})
        for o in generation.outputs
    ]
    return generation.model_copy(update={"outputs": outputs})


def test_the_key_goes_only_to_the_gateway(
    stack: Stack, caller: tuple[str, str, str], finished: ffc.Generation, tmp_path: Path
) -> None:
    with Proxy(stack.emulator_url) as proxy, Client(stack.gateways["gateway"], caller[1]) as ff:
        generation = rerouted(finished, stack.emulator_url, proxy.url)
        ff.download(generation, tmp_path)
        fetches = [s for s in proxy.seen if s.path.startswith("/images/")]
    assert len(fetches) == 2 and all("authorization" not in s.headers for s in fetches)


# --- webhooks -------------------------------------------------------------------------------------------


def test_a_webhook_is_verified_with_the_clients_secret(stack: Stack, caller: tuple[str, str, str]) -> None:
    _, key, secret = caller
    other_secret = stack_secret(stack)
    with Receiver() as receiver, Client(stack.gateways["gateway"], key) as ff:
        generation = ff.generate(f"a router {tag()}", model=ROUTER_MODEL_ID, webhook=receiver.url)
        [delivery] = receiver.wait_for(1)
    message = verify_webhook(delivery.body, delivery.headers, secret)
    assert message.type == "generation.succeeded" and message.data.id == generation.id
    assert message.webhook_id == delivery.headers["webhook-id"] and message.data.outputs
    with pytest.raises(ffc.WebhookVerificationError):
        verify_webhook(delivery.body.replace(b"succeeded", b"failed"), delivery.headers, secret)
    with pytest.raises(ffc.WebhookVerificationError):
        verify_webhook(delivery.body, delivery.headers, other_secret)
    stale = delivery.headers | {"webhook-timestamp": str(int(time.time()) - 3600)}
    with pytest.raises(ffc.WebhookVerificationError):
        verify_webhook(delivery.body, stale, secret)
    with pytest.raises(ffc.WebhookVerificationError):
        verify_webhook(delivery.body, {}, secret)


def stack_secret(stack: Stack) -> str:
    """The webhook secret of another client: it must not verify this client's deliveries."""
    with stack.client() as admin:
        response = admin.post("/v1/admin/clients", json={"name": "someone-else"})
    secret: str = response.json()["webhookSecret"]
    return secret
