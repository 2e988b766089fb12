from __future__ import annotations

import re
from typing import Any

import pytest

from emulator import seed
from tests.emulator.conftest import Emu

JOB_ID = re.compile(r"^urn:ff:jobs:[a-z0-9]+:[0-9a-f-]{36}$")


def test_accepted_job_has_status_and_cancel_links(emu: Emu) -> None:
    response = emu.generate({"prompt": "a cat", "someFutureField": True}, x_accept_mimetype="image/jpeg")

    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"jobId", "statusUrl", "cancelUrl"}
    assert JOB_ID.match(body["jobId"])
    assert body["statusUrl"] == f"{emu.public_url}/v3/status/{body['jobId']}"
    assert body["cancelUrl"] == f"{emu.public_url}/v3/cancel/{body['jobId']}"
    assert f'<{body["statusUrl"]}>; rel="status"' in response.headers["link"]
    assert f'<{body["cancelUrl"]}>; rel="cancel"' in response.headers["link"]


def test_custom_model_job_is_recorded_with_its_version(emu: Emu) -> None:
    body = {
        "prompt": "a router on a desk",
        "customModelId": seed.ROUTER_MODEL_ID,
        "negativePrompt": "blurry",
        "seeds": [7, 8],
        "size": {"width": 2688, "height": 1512},
        "contentClass": "photo",
        "style": {"presets": ["golden_hour"], "strength": 60},
        "promptBiasingLocaleCode": "en-US",
    }

    job = emu.submit(body, x_model_version="image3_custom", x_request_id="r-1")

    record = emu.http.get(f"/_emulator/jobs/{job['jobId']}").json()
    assert record["modelVersion"] == "image3_custom"
    assert record["customModelId"] == seed.ROUTER_MODEL_ID
    assert record["numVariations"] == 2
    assert record["seeds"] == [7, 8]
    assert record["requestId"] == "r-1"


@pytest.mark.parametrize("content_type", [None, "text/plain", "multipart/form-data; boundary=x"])
def test_non_json_content_type_is_415(emu: Emu, content_type: str | None) -> None:
    headers = emu.headers()
    if content_type:
        headers["content-type"] = content_type

    response = emu.http.post("/v3/images/generate-async", content=b'{"prompt":"x"}', headers=headers)

    assert response.status_code == 415
    assert response.json()["error_code"] == "invalid_content_type"


@pytest.mark.parametrize(("content", "code"), [(b"", "empty_input_body"), (b"{not json", "bad_request")])
def test_empty_or_unparsable_body_is_400(emu: Emu, content: bytes, code: str) -> None:
    headers = {**emu.headers(), "content-type": "application/json"}

    response = emu.http.post("/v3/images/generate-async", content=content, headers=headers)

    assert response.status_code == 400
    assert response.json()["error_code"] == code


@pytest.mark.parametrize(
    ("body", "version", "loc"),
    [
        ({}, None, ["body", "prompt"]),
        ({"prompt": ""}, None, ["body", "prompt"]),
        ({"prompt": "x" * 1025}, None, ["body", "prompt"]),
        ({"prompt": "x", "negativePrompt": "x" * 1025}, None, ["body", "negativePrompt"]),
        ({"prompt": "x", "numVariations": 5}, None, ["body", "numVariations"]),
        ({"prompt": "x", "numVariations": 0}, None, ["body", "numVariations"]),
        ({"prompt": "x", "numVariations": 2, "seeds": [1, 2, 3]}, None, ["body", "seeds"]),
        ({"prompt": "x", "seeds": [1, 1]}, None, ["body", "seeds"]),
        ({"prompt": "x", "seeds": [1, 2, 3, 4, 5]}, None, ["body", "seeds"]),
        ({"prompt": "x", "seeds": ["1"]}, None, ["body", "seeds", 0]),
        ({"prompt": "x", "size": {"width": 1000, "height": 1000}}, None, ["body", "size"]),
        ({"prompt": "x", "size": {"width": 1344, "height": 756}}, "image4_standard", ["body", "size"]),
        ({"prompt": "x", "size": {"width": 2048}}, None, ["body", "size", "height"]),
        ({"prompt": "x", "contentClass": "video"}, None, ["body", "contentClass"]),
        ({"prompt": "x", "visualIntensity": 11}, None, ["body", "visualIntensity"]),
        ({"prompt": "x", "style": {"presets": ["nope"]}}, None, ["body", "style", "presets", 0]),
        ({"prompt": "x", "style": {"strength": 0}}, None, ["body", "style", "strength"]),
        ({"prompt": "x", "structure": {"strength": 101}}, None, ["body", "structure", "strength"]),
        (
            {"prompt": "x", "structure": {"imageReference": {"source": {}}}},
            None,
            ["body", "structure", "imageReference", "source"],
        ),
        ({"prompt": "x", "promptBiasingLocaleCode": "english"}, None, ["body", "promptBiasingLocaleCode"]),
        ({"prompt": "x"}, "image5", ["header", "x-model-version"]),
        ({"prompt": "x"}, "image3_custom", ["body", "customModelId"]),
        (
            {"prompt": "x", "customModelId": "urn:aaid:sc:VA6C2:nope"},
            "image4_custom",
            ["body", "customModelId"],
        ),
        (
            {"prompt": "x", "customModelId": seed.TRAINING_MODEL_ID},
            "image3_custom",
            ["body", "customModelId"],
        ),
        ({"prompt": "x", "customModelId": seed.FAILED_MODEL_ID}, "image3_custom", ["body", "customModelId"]),
    ],
)
def test_validation_errors_are_422_with_the_failing_location(
    emu: Emu, body: dict[str, Any], version: str | None, loc: list[str | int]
) -> None:
    extra = {"x_model_version": version} if version else {}

    response = emu.generate(body, **extra)

    assert response.status_code == 422, response.text
    error = response.json()
    assert error["error_code"] == "validation_error"
    assert loc in [item["loc"] for item in error["validation_errors"]]
    assert all(item["msg"] and item["type"] for item in error["validation_errors"])
    assert emu.http.get("/_emulator/stats").json()["jobs"] == 0


def test_validation_reports_every_problem_at_once(emu: Emu) -> None:
    response = emu.generate({"prompt": "", "numVariations": 9, "contentClass": "x"})

    locs = [item["loc"] for item in response.json()["validation_errors"]]
    assert locs == [["body", "prompt"], ["body", "numVariations"], ["body", "contentClass"]]


def test_never_published_but_trained_model_can_be_used(emu: Emu) -> None:
    body = {"prompt": "a cereal box", "customModelId": seed.DRAFT_MODEL_ID}

    assert emu.generate(body, x_model_version="image4_custom").status_code == 202
