"""The official `openai` Python package pointed at the gateway (`base_url`, an ffgate API key) generates
with custom models; OpenAI's errors, and the wait limit that never runs a job twice."""

from __future__ import annotations

import base64
import hashlib
import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from emulator import seed
from tests.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def sdk(stack: Stack) -> Iterator[tuple[openai.OpenAI, str]]:
    _client_id, key = stack.create_client()
    with openai.OpenAI(base_url=f"{stack.gateways['gateway']}/v1", api_key=key, max_retries=0) as client:
        yield client, key


def test_two_images_as_urls_with_a_display_name(stack: Stack, sdk: tuple[openai.OpenAI, str]) -> None:
    client, _ = sdk
    result = client.images.generate(
        model="Citi Signal Router Model", prompt="a white router on a beach", n=2, size="2048x2048"
    )
    assert result.created > 0 and len(result.data) == 2
    for image in result.data:
        assert image.b64_json is None and image.revised_prompt is None
        fetched = httpx.get(str(image.url))
        assert fetched.status_code == 200
        assert Image.open(io.BytesIO(fetched.content)).size == (2048, 2048)


def test_two_images_as_base64_with_an_asset_id(stack: Stack, sdk: tuple[openai.OpenAI, str]) -> None:
    client, _ = sdk
    result = client.images.generate(
        model=seed.STYLE_MODEL_ID, prompt="a skyline", n=2, size="2304x1792", response_format="b64_json"
    )
    assert len(result.data) == 2
    for image in result.data:
        assert image.url is None
        assert Image.open(io.BytesIO(base64.b64decode(str(image.b64_json)))).size == (2304, 1792)
    # Each request is one ordinary generation of the caller.
    sent = [
        e
        for e in stack.emu_requests()
        if e["endpoint"] == "generate" and e.get("customModelId") == seed.STYLE_MODEL_ID
    ]
    assert sent and sent[-1]["modelVersion"] == "image4_custom"


def test_models_lists_the_usable_custom_models(stack: Stack, sdk: tuple[openai.OpenAI, str]) -> None:
    client, _ = sdk
    with stack.client() as admin:
        admin.put(f"/v1/admin/custom-models/{seed.IMAGE5_MODEL_ID}", json={"unavailable": "image5"})
    try:
        models = list(client.models.list())
    finally:
        stack.redis.delete("ffgate:model-records")
    ids = [m.id for m in models]
    assert seed.ROUTER_MODEL_ID in ids and seed.IMAGE5_MODEL_ID not in ids
    assert seed.DRAFT_MODEL_ID not in ids  # never published
    assert all(m.object == "model" and m.created > 0 for m in models)
    assert client.models.retrieve(seed.ROUTER_MODEL_ID).id == seed.ROUTER_MODEL_ID
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve(seed.DRAFT_MODEL_ID)
    assert missing.value.code == "model_not_found"


def test_refusals_are_openai_errors(stack: Stack, sdk: tuple[openai.OpenAI, str]) -> None:
    client, _ = sdk
    with pytest.raises(openai.NotFoundError) as unknown:
        client.images.generate(model="No Such Model", prompt="a router")
    assert unknown.value.code == "model_not_found" and "No Such Model" in unknown.value.message
    with pytest.raises(openai.BadRequestError) as bad_size:
        client.images.generate(model=seed.ROUTER_MODEL_ID, prompt="a router", size="1024x1024")
    assert bad_size.value.param == "size" and "1024x1024" in bad_size.value.message
    assert "2048x2048" in bad_size.value.message
    with pytest.raises(openai.BadRequestError) as no_concept:
        client.images.generate(model=seed.ROUTER_MODEL_ID, prompt="a lamp")
    assert no_concept.value.param == "prompt" and "router" in no_concept.value.message
    with pytest.raises(openai.BadRequestError) as too_many:
        client.images.generate(model=seed.ROUTER_MODEL_ID, prompt="a router", n=5)
    assert too_many.value.param == "n"
    with openai.OpenAI(
        base_url=f"{stack.gateways['gateway']}/v1", api_key="ffk_nobody", max_retries=0
    ) as bad:
        with pytest.raises(openai.AuthenticationError) as unauthorized:
            bad.images.generate(model=seed.ROUTER_MODEL_ID, prompt="a router")
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()
    body = unauthorized.value.body
    assert isinstance(body, dict) and body["code"] == "invalid_api_key"
    assert body["type"] == "invalid_request_error"


def test_a_generation_past_the_wait_limit_is_named_and_not_run_again(stack: Stack) -> None:
    """The SDK retries 5xx by default; the 504 says not to, so the job runs once and can be fetched later."""
    slow = stack.start_gateway("openai-short-wait", FFGATE_OPENAI_WAIT_S="1")
    _, key = stack.create_client()
    with stack.emulator() as emu:
        emu.post(
            "/_emulator/outcomes",
            json={"promptContains": "patient router", "outcome": "succeeded", "latencyS": 4},
        )
    before = stack.emu_stats()["requests"]["generate"]
    with (
        openai.OpenAI(base_url=f"{slow}/v1", api_key=key, max_retries=2) as client,
        pytest.raises(openai.APIStatusError) as pending,
    ):
        client.images.generate(model=seed.ROUTER_MODEL_ID, prompt="a patient router")
    assert pending.value.status_code == 504
    body = pending.value.body
    assert isinstance(body, dict) and body["code"] == "generation_pending"
    gen_id = next(word for word in pending.value.message.split() if word.startswith("gen_"))
    assert f"/v1/generations/{gen_id}" in pending.value.message
    with stack.client(key=key) as own:
        assert own.get(f"/v1/generations/{gen_id}").status_code == 200
        assert [g["id"] for g in own.get("/v1/generations").json()["items"]] == [gen_id]
    assert stack.emu_stats()["requests"]["generate"] - before <= 1


def test_a_repeated_seeded_request_is_answered_from_the_store_unless_no_cache(
    stack: Stack, sdk: tuple[openai.OpenAI, str]
) -> None:
    client, key = sdk
    asked = {"model": seed.ROUTER_MODEL_ID, "prompt": f"a seeded router {time.time_ns()}", "n": 2}
    with stack.client(key=key) as own:

        def latest() -> dict[str, Any]:
            """The caller's newest generation: the one the last answer was made from."""
            newest: dict[str, Any] = own.get("/v1/generations").json()["items"][0]
            return newest

        client.images.generate(**asked, extra_body={"seed": 51})  # type: ignore[call-overload]
        first_id = latest()["id"]
        deadline = time.monotonic() + 30
        while not all(o["image"]["stored"] for o in own.get(f"/v1/generations/{first_id}").json()["outputs"]):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        stored = own.get(f"/v1/generations/{first_id}").json()
        assert [o["seed"] for o in stored["outputs"]] == [51, 52]
        calls = stack.emu_stats()["requests"]["generate"]

        again = client.images.generate(**asked, extra_body={"seed": 51})  # type: ignore[call-overload]
        assert stack.emu_stats()["requests"]["generate"] == calls  # no Firefly call
        assert latest()["reused"] == {"from": first_id}
        shas = [hashlib.sha256(httpx.get(str(image.url)).content).hexdigest() for image in again.data]
        assert shas == [o["image"]["sha256"] for o in stored["outputs"]]

        # The body's `cache` object (as LiteLLM's) and the header each force a fresh generation.
        for extra_body, extra_headers in (
            ({"seed": 51, "cache": {"no-cache": True}}, {}),
            ({"seed": 51}, {"Cache-Control": "no-cache"}),
        ):
            client.images.generate(
                **asked,  # type: ignore[arg-type]
                extra_body=extra_body,
                extra_headers=extra_headers,
            )
            fresh = latest()
            assert fresh["status"] == "succeeded" and fresh.get("reused") is None
            calls += 1
            assert stack.emu_stats()["requests"]["generate"] == calls, extra_body
