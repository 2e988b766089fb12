"""Our Postman collection (tests/postman), which makes the requests of Adobe's own custom-models tutorial
collection the way it makes them, run by newman against a real `ffgate emulator` process, and again against
the gateway's Firefly-compatible surface (both hosts pointed at the gateway, an ffgate client's id and key as
the credentials).

newman is installed by the test setup (tests/postman/newman.py: `npm ci` into .cache/newman) when absent.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from emulator import seed
from tests.postman import newman
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def newman_ready() -> Path:
    return newman.install()


@pytest.fixture(scope="module")
def emulator_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("postman"), workers=0, gateways=0) as stack:
        yield stack


@pytest.fixture(scope="module")
def gateway_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("postman-gateway")) as stack:
        yield stack


def _emulator_vars(stack: Stack) -> dict[str, str]:
    return {
        "IMS_URL": stack.emulator_url,
        "FIREFLY_URL": stack.emulator_url,
        "API_KEY": stack.env["FFGATE_EMULATOR_CLIENT_ID"],
        "CLIENT_SECRET": stack.env["FFGATE_EMULATOR_CLIENT_SECRET"],
        "POLL_INTERVAL_MS": "250",
        "MAX_POLLS": "40",
    }


def test_the_collection_passes_against_the_emulator(
    newman_ready: Path, emulator_only: Stack, tmp_path: Path
) -> None:
    with emulator_only.emulator() as emu:
        emu.post("/_emulator/reset").raise_for_status()

    result = newman.run(tmp_path, _emulator_vars(emulator_only))

    assert result.returncode == 0, result.output
    assert result.failures == [], result.output
    stats = result.report["run"]["stats"]
    assert stats["assertions"]["failed"] == 0 and stats["assertions"]["total"] >= 8
    executed = result.executed()
    assert executed[:3] == ["POST - Get Access Token", "1. FF - getCustomModels", "2. Generate Images Async"]
    assert executed[-1] == "4. Cancel CM Job"
    assert set(executed[3:-1]) == {"3. Get CM Status"}

    # What the emulator saw is what Adobe's collection sends.
    log: list[dict[str, Any]] = emulator_only.emu_requests()
    token, listing, generate = log[0], log[1], log[2]
    assert (token["method"], token["path"], token["status"]) == ("POST", "/ims/token/v2", 200)
    assert (listing["path"], listing["status"]) == ("/v3/custom-models", 200)
    assert (generate["status"], generate["modelVersion"]) == (202, "image4_custom")
    assert generate["customModelId"] == seed.ROUTER_MODEL_ID, "custom_models[0] of the default listing"
    assert generate["ignoredFields"] == ["negativePrompt"]
    statuses = [entry for entry in log if entry["endpoint"] == "status"]
    assert len(statuses) == len(executed) - 4
    assert {entry["jobId"] for entry in statuses} == {generate["jobId"]}
    assert (log[-1]["endpoint"], log[-1]["status"]) == ("cancel", 409)

    with emulator_only.emulator() as emu:
        job = emu.get(f"/_emulator/jobs/{generate['jobId']}").json()
        status_body = emu.get(
            f"/v3/status/{generate['jobId']}",
            headers={
                "authorization": f"Bearer {_token(emulator_only)}",
                "x-api-key": _emulator_vars(emulator_only)["API_KEY"],
            },
        ).json()
    assert (job["status"], job["numVariations"], job["size"]) == (
        "succeeded",
        2,
        {"width": 2048, "height": 2048},
    )
    # The images behind the two URLs are the size the result reports.
    reported = (status_body["result"]["size"]["width"], status_body["result"]["size"]["height"])
    for output in status_body["result"]["outputs"]:
        fetched = httpx.get(output["image"]["url"], timeout=30)
        assert fetched.status_code == 200
        assert Image.open(io.BytesIO(fetched.content)).size == reported == (2048, 2048)


def test_the_collection_passes_against_the_gateway(
    newman_ready: Path, gateway_stack: Stack, tmp_path: Path
) -> None:
    client_id, key = gateway_stack.create_client(name="postman")
    gateway = gateway_stack.gateways["gateway"]
    env = {"IMS_URL": gateway, "FIREFLY_URL": gateway, "API_KEY": client_id, "CLIENT_SECRET": key}

    result = newman.run(tmp_path, env | {"POLL_INTERVAL_MS": "250", "MAX_POLLS": "40"})

    assert result.returncode == 0, result.output
    assert result.failures == [], result.output
    executed = result.executed()
    assert executed[:3] == ["POST - Get Access Token", "1. FF - getCustomModels", "2. Generate Images Async"]
    assert executed[-1] == "4. Cancel CM Job"
    # The gateway made one ordinary generation of that client, sent upstream with the collection's version;
    # the negativePrompt that image4_custom does not support was named in its warnings, not sent.
    with gateway_stack.client(key=key) as own:
        (generation,) = own.get("/v1/generations").json()["items"]
    assert generation["status"] == "succeeded" and len(generation["outputs"]) == 2
    assert generation["request"]["customModelId"] == seed.ROUTER_MODEL_ID
    assert any("negativePrompt" in warning for warning in generation["warnings"])
    generate = [entry for entry in gateway_stack.emu_requests() if entry["endpoint"] == "generate"]
    assert [(g["modelVersion"], g["ignoredFields"], g["jobId"]) for g in generate] == [
        ("image4_custom", [], generation["upstream"]["jobId"])
    ]


def test_a_failing_step_fails_the_run(newman_ready: Path, emulator_only: Stack, tmp_path: Path) -> None:
    """The collection's tests do test: a job that fails upstream makes newman exit non-zero."""
    with emulator_only.emulator() as emu:
        emu.post("/_emulator/reset").raise_for_status()
        emu.post("/_emulator/outcomes", json={"promptContains": "", "outcome": "failed"}).raise_for_status()

    result = newman.run(tmp_path, _emulator_vars(emulator_only))

    assert result.returncode != 0
    assert any("the job succeeded with two images" in failure for failure in result.failures), result.output


def _token(stack: Stack) -> str:
    vars_ = _emulator_vars(stack)
    form = {
        "grant_type": "client_credentials",
        "client_id": vars_["API_KEY"],
        "client_secret": vars_["CLIENT_SECRET"],
        "scope": "openid,AdobeID,firefly_api,ff_apis",
    }
    with stack.emulator() as emu:
        token: str = emu.post("/ims/token/v3", data=form).json()["access_token"]
    return token
