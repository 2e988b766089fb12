"""Model versions end to end: what each path sends upstream as `x-model-version` (as the emulator recorded
it), the operator's per-model record, and each per-version rule refused or warned of before anything is
queued."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulator import seed
from tests.e2e.test_contract import assert_problem, generate_calls, record_count
from tests.model_versions import SIZE_PRESETS
from tests.stack import Stack, wait_terminal

pytestmark = pytest.mark.e2e

ROUTER = {"prompt": "a white router on a volcano", "customModelId": seed.ROUTER_MODEL_ID}
STYLE = {"prompt": "a skyline at dusk", "customModelId": seed.STYLE_MODEL_ID}


@pytest.fixture
def records(stack: Stack) -> Iterator[None]:
    """Model records made by a test are forgotten after it."""
    yield
    stack.redis.delete("ffgate:model-records")


def _sent(stack: Stack, gen_id: str) -> dict[str, Any]:
    """The generate call the emulator recorded for this generation."""
    with stack.client() as client:
        job_id = wait_terminal(client, gen_id)["upstream"]["jobId"]
    return next(e for e in stack.emu_requests() if e["endpoint"] == "generate" and e.get("jobId") == job_id)


def _submit(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    with stack.client() as client:
        response = client.post("/v1/generations", json=body)
    assert response.status_code == 202, response.text
    generation: dict[str, Any] = response.json()
    return generation


def test_no_version_anywhere_sends_the_setting_image4_custom(stack: Stack, records: None) -> None:
    generation = _submit(stack, ROUTER)
    assert generation["request"]["modelVersion"] == "image4_custom"
    assert _sent(stack, generation["id"])["modelVersion"] == "image4_custom"


def test_the_requests_version_is_sent(stack: Stack, records: None) -> None:
    generation = _submit(
        stack, {**STYLE, "modelVersion": "image3_custom", "size": {"width": 1024, "height": 1024}}
    )
    sent = _sent(stack, generation["id"])
    assert (sent["modelVersion"], sent["status"]) == ("image3_custom", 202)


def test_the_models_record_is_shown_and_sent_until_cleared(stack: Stack, records: None) -> None:
    with stack.client() as admin:
        put = admin.put(
            f"/v1/admin/custom-models/{seed.STYLE_MODEL_ID}", json={"modelVersion": "image3_custom"}
        )
        assert put.status_code == 200, put.text
        assert admin.get(f"/v1/custom-models/{seed.STYLE_MODEL_ID}").json()["modelVersion"] == "image3_custom"
        listed = admin.get("/v1/admin/custom-models").json()["items"]
        assert [(r["assetId"], r["modelVersion"]) for r in listed] == [(seed.STYLE_MODEL_ID, "image3_custom")]

    assert _sent(stack, _submit(stack, STYLE)["id"])["modelVersion"] == "image3_custom"
    # The request still wins over the record.
    assert _sent(stack, _submit(stack, {**STYLE, "modelVersion": "image4_custom"})["id"])["modelVersion"] == (
        "image4_custom"
    )

    with stack.client() as admin:
        assert admin.delete(f"/v1/admin/custom-models/{seed.STYLE_MODEL_ID}").status_code == 204
        assert admin.get(f"/v1/custom-models/{seed.STYLE_MODEL_ID}").json()["modelVersion"] == "image4_custom"
    assert _sent(stack, _submit(stack, STYLE)["id"])["modelVersion"] == "image4_custom"


@pytest.mark.parametrize("version", sorted(SIZE_PRESETS))
def test_a_size_of_another_version_is_refused_naming_it_and_the_allowed_ones(
    stack: Stack, version: str
) -> None:
    other = next(
        size for v, sizes in SIZE_PRESETS.items() if v != version for size in sizes - SIZE_PRESETS[version]
    )
    before = generate_calls(stack), record_count(stack)
    body = {**STYLE, "modelVersion": version, "size": {"width": other[0], "height": other[1]}}
    with stack.client() as client:
        problem = assert_problem(client.post("/v1/generations", json=body), 422)
    assert problem["errors"][0]["loc"] == ["body", "size"]
    assert f"{other[0]}x{other[1]}" in problem["detail"] and version in problem["detail"]
    assert all(f"{w}x{h}" in problem["detail"] for w, h in SIZE_PRESETS[version])
    assert (generate_calls(stack), record_count(stack)) == before


def test_a_subject_model_needs_its_concept_in_the_prompt(stack: Stack) -> None:
    before = generate_calls(stack), record_count(stack)
    with stack.client() as client:
        problem = assert_problem(
            client.post("/v1/generations", json={**ROUTER, "prompt": "a lamp on a desk"}), 422
        )
    assert problem["errors"][0]["loc"] == ["body", "prompt"]
    assert "'router'" in problem["detail"]
    assert (generate_calls(stack), record_count(stack)) == before


@pytest.mark.parametrize(
    ("version", "fields"),
    [
        ("image4_custom", {"negativePrompt": "red", "visualIntensity": 6}),
        ("image3_custom", {"negativePrompt": "red", "upsamplerType": "low_creativity"}),
    ],
)
def test_unsupported_fields_are_accepted_named_in_warnings_and_not_sent(
    stack: Stack, version: str, fields: dict[str, Any]
) -> None:
    generation = _submit(stack, {**ROUTER, "modelVersion": version, **fields})
    for name in fields:
        assert any(name in w and version in w for w in generation["warnings"]), generation["warnings"]
        assert name not in generation["request"]
    sent = _sent(stack, generation["id"])
    assert (sent["modelVersion"], sent["ignoredFields"]) == (version, [])  # nothing for Firefly to ignore


def test_upsampler_type_goes_upstream_with_image4_custom(stack: Stack) -> None:
    generation = _submit(stack, {**ROUTER, "upsamplerType": "low_creativity"})
    assert generation["request"]["upsamplerType"] == "low_creativity" and generation["warnings"] == []
    assert _sent(stack, generation["id"])["status"] == 202


@pytest.mark.parametrize(("unavailable", "says"), [("image5", "Image 5"), ("retired", "retired Image 3")])
def test_a_model_marked_unservable_is_refused_saying_why(
    stack: Stack, records: None, unavailable: str, says: str
) -> None:
    asset_id = seed.IMAGE5_MODEL_ID if unavailable == "image5" else seed.IMAGE3_MODEL_ID
    with stack.client() as admin:
        put = admin.put(f"/v1/admin/custom-models/{asset_id}", json={"unavailable": unavailable})
        assert put.status_code == 200, put.text
        assert admin.get(f"/v1/custom-models/{asset_id}").json()["unavailable"] == unavailable
    before = generate_calls(stack), record_count(stack)
    with stack.client() as client:
        body = {"prompt": "a mascot waving", "customModelId": asset_id}
        problem = assert_problem(client.post("/v1/generations", json=body), 422)
    assert problem["errors"][0]["loc"] == ["body", "customModelId"]
    assert says in problem["detail"] and asset_id in problem["detail"]
    assert (generate_calls(stack), record_count(stack)) == before


def test_an_idempotency_key_fingerprints_the_resolved_version(stack: Stack, records: None) -> None:
    """The same body means another request once the model's record changes what it resolves to."""
    with stack.client() as client:
        headers = {"Idempotency-Key": "versioned-1"}
        first = client.post("/v1/generations", json=STYLE, headers=headers)
        assert first.status_code == 202, first.text
        again = client.post("/v1/generations", json=STYLE, headers=headers)
        assert again.json()["id"] == first.json()["id"]
        put = client.put(
            f"/v1/admin/custom-models/{seed.STYLE_MODEL_ID}", json={"modelVersion": "image3_custom"}
        )
        assert put.status_code == 200
        assert_problem(client.post("/v1/generations", json=STYLE, headers=headers), 422)


def test_every_surface_sends_the_models_record_when_the_request_names_no_version(
    stack: Stack, records: None
) -> None:
    """`/v1/generations`, Firefly's `/v3/images/generate-async` without `x-model-version` and OpenAI's
    `/v1/images/generations` resolve the version the same way."""
    _, key = stack.create_client()
    with stack.client() as admin:
        admin.put(f"/v1/admin/custom-models/{seed.STYLE_MODEL_ID}", json={"modelVersion": "image3_custom"})
    image3_size = {"width": 1344, "height": 768}  # not an Image 4 preset: accepted only as image3_custom
    with stack.client(key=key) as client:
        v1 = client.post("/v1/generations", json={**STYLE, "size": image3_size}).json()["id"]
        v3 = client.post("/v3/images/generate-async", json={**STYLE, "size": image3_size}).json()["jobId"]
        openai = client.post(
            "/v1/images/generations",
            json={"model": seed.STYLE_MODEL_ID, "prompt": "a skyline", "size": "1344x768"},
        )
        assert openai.status_code == 200, openai.text
        items = client.get("/v1/generations").json()["items"]
    assert {v1, v3} < {g["id"] for g in items} and len(items) == 3
    for generation in items:
        assert generation["request"]["modelVersion"] == "image3_custom"
        assert _sent(stack, generation["id"])["modelVersion"] == "image3_custom"
