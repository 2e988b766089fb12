"""The walk-through, through ffgate: list models, generate with the router model, poll, open the images."""

from __future__ import annotations

import io

import httpx
from PIL import Image

from emulator.seed import ROUTER_MODEL_ID, STYLE_MODEL_ID
from tests.stack import Stack, wait_terminal

PROMPT = "a white router on a volcano in Africa"


def test_models_are_listed_from_firefly(stack: Stack) -> None:
    with stack.client() as client:
        response = client.get("/v1/custom-models")
        assert response.status_code == 200
        body = response.json()
        names = {m["displayName"] for m in body["items"]}
        assert "Citi Signal Router Model" in names
        assert body["total"] == len(body["items"])
        assert all(m["publishedState"] == "published" for m in body["items"])
        assert body["cachedAt"].endswith("Z")

        router = client.get(f"/v1/custom-models/{ROUTER_MODEL_ID}").json()
        assert router["conceptId"] == "router"
        assert router["trainingMode"] == "subject"

        styles = client.get("/v1/custom-models", params={"trainingMode": "style"}).json()["items"]
        assert styles and all(m["trainingMode"] == "style" for m in styles)
        assert STYLE_MODEL_ID in {m["assetId"] for m in styles}

        everything = client.get("/v1/custom-models", params={"publishedState": "all"}).json()
        assert everything["total"] > body["total"]  # every page merged, unpublished ones too

        missing = client.get("/v1/custom-models/urn:aaid:sc:VA6C2:no-such-model")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


def test_generate_poll_and_open_two_images(stack: Stack) -> None:
    with stack.client() as client:
        response = client.post(
            "/v1/generations",
            json={"prompt": PROMPT, "customModelId": ROUTER_MODEL_ID, "numVariations": 2},
        )
        assert response.status_code == 202, response.text
        created = response.json()
        assert created["status"] == "queued"
        assert response.headers["location"] == f"/v1/generations/{created['id']}"
        assert created["links"]["self"] == response.headers["location"]
        assert created["warnings"] == []

        done = wait_terminal(client, created["id"])
        assert done["status"] == "succeeded", done
        assert done["upstream"]["jobId"].startswith("urn:ff:jobs:")
        assert done["completedAt"] and done["error"] is None
        assert len(done["outputs"]) == 2
        images = []
        for output in done["outputs"]:
            assert isinstance(output["seed"], int)
            assert output["image"]["contentType"] == "image/jpeg"
            fetched = httpx.get(output["image"]["url"], timeout=30)
            assert fetched.status_code == 200
            image = Image.open(io.BytesIO(fetched.content))
            assert image.format == "JPEG"
            images.append(fetched.content)
        assert images[0] != images[1]

    # Firefly saw the custom-model header and body.
    with stack.emulator() as emu:
        job = emu.get(f"/_emulator/jobs/{done['upstream']['jobId']}").json()
    assert (
        job["modelVersion"] == "image4_custom"
    )  # FFGATE_MODEL_VERSION: neither request nor record names one
    assert job["customModelId"] == ROUTER_MODEL_ID
    assert job["numVariations"] == 2


def test_subject_model_prompt_without_its_concept_is_refused_naming_it(stack: Stack) -> None:
    with stack.client() as client:
        response = client.post(
            "/v1/generations", json={"prompt": "a volcano in Africa", "customModelId": ROUTER_MODEL_ID}
        )
    assert response.status_code == 422
    assert "'router'" in response.json()["detail"]


def test_metadata_and_request_are_returned_untouched(stack: Stack) -> None:
    metadata = {"campaign": "spring", "nested": {"n": [1, 2, 3]}}
    request = {
        "prompt": PROMPT,
        "customModelId": ROUTER_MODEL_ID,
        "seeds": [7, 8],
        "size": {"width": 1344, "height": 768},  # an Image 3 preset
        "contentClass": "photo",
        "modelVersion": "image3_custom",
    }
    with stack.client() as client:
        created = client.post("/v1/generations", json={**request, "metadata": metadata}).json()
        assert created["metadata"] == metadata
        assert created["request"] == request
        done = wait_terminal(client, created["id"])
    assert done["status"] == "succeeded"
    assert sorted(o["seed"] for o in done["outputs"]) == [7, 8]
    assert {(o["image"]["width"], o["image"]["height"]) for o in done["outputs"]} == {(1344, 768)}
