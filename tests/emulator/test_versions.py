"""What depends on `x-model-version`: size presets, the custom model and its concept, and the fields a version
ignores (accepted, not used, recorded where tests can see them)."""

from __future__ import annotations

from typing import Any

import pytest

from emulator import seed
from emulator.validation import IMAGE3_SIZES, IMAGE4_SIZES, UNSUPPORTED_FIELDS
from tests.emulator.conftest import Emu
from tests.model_versions import SIZE_PRESETS
from tests.model_versions import UNSUPPORTED_FIELDS as DOCUMENTED_UNSUPPORTED

ROUTER = {"prompt": "a white router on a colourful background", "customModelId": seed.ROUTER_MODEL_ID}
STYLE = {"prompt": "a skyline", "customModelId": seed.STYLE_MODEL_ID}


def test_the_custom_versions_tables_are_adobes() -> None:
    """The same expectations the gateway's own tables are tested against (tests/model_versions.py)."""
    assert {"image3_custom": set(IMAGE3_SIZES), "image4_custom": set(IMAGE4_SIZES)} == SIZE_PRESETS
    assert {v: set(UNSUPPORTED_FIELDS[v]) for v in DOCUMENTED_UNSUPPORTED} == DOCUMENTED_UNSUPPORTED


def _size(width: int, height: int) -> dict[str, int]:
    return {"width": width, "height": height}


def _job(emu: Emu, job_id: str) -> dict[str, Any]:
    return dict(emu.http.get(f"/_emulator/jobs/{job_id}").json())


def _log(emu: Emu, endpoint: str) -> list[dict[str, Any]]:
    return [
        item for item in emu.http.get("/_emulator/requests").json()["items"] if item["endpoint"] == endpoint
    ]


def _errors(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error_code"] == "validation_error"
    return list(body["validation_errors"])


@pytest.mark.parametrize(
    ("version", "presets"), [("image3_custom", IMAGE3_SIZES), ("image4_custom", IMAGE4_SIZES)]
)
def test_every_preset_of_the_version_is_accepted(emu: Emu, version: str, presets: tuple[Any, ...]) -> None:
    for width, height in presets:
        response = emu.generate({**STYLE, "size": _size(width, height)}, x_model_version=version)
        assert response.status_code == 202, (version, width, height, response.text)
    assert emu.http.get("/_emulator/stats").json()["modelVersions"] == {version: len(presets)}


@pytest.mark.parametrize(
    ("version", "size", "presets"),
    [
        ("image4_custom", (1024, 1024), IMAGE4_SIZES),  # Image 3 only
        ("image4_custom", (2688, 1512), IMAGE4_SIZES),  # Image 3 only
        ("image3_custom", (1440, 2560), IMAGE3_SIZES),  # Image 4 only
        ("image3_custom", (2000, 2000), IMAGE3_SIZES),  # inside 1..4096 but no preset
    ],
)
def test_a_size_outside_the_versions_presets_is_refused_naming_them(
    emu: Emu, version: str, size: tuple[int, int], presets: tuple[tuple[int, int], ...]
) -> None:
    response = emu.generate({**STYLE, "size": _size(*size)}, x_model_version=version)

    (error,) = _errors(response)
    assert error["loc"] == ["body", "size"]
    assert f"{size[0]}x{size[1]}" in error["msg"] and version in error["msg"]
    assert error["ctx"]["permitted"] == [_size(w, h) for w, h in presets]
    assert emu.http.get("/_emulator/stats").json()["jobs"] == 0


@pytest.mark.parametrize("version", ["image3_custom", "image4_custom"])
def test_a_subject_models_concept_must_be_in_the_prompt(emu: Emu, version: str) -> None:
    response = emu.generate({**ROUTER, "prompt": "a desk lamp on a table"}, x_model_version=version)

    (error,) = _errors(response)
    assert error["loc"] == ["body", "prompt"]
    assert "'router'" in error["msg"] and seed.ROUTER_MODEL_ID in error["msg"]
    assert error["type"] == "value_error.concept_missing"
    assert error["ctx"] == {"conceptId": "router"}


@pytest.mark.parametrize(
    "body",
    [
        {**ROUTER, "prompt": "Two ROUTERS on a shelf"},  # case and plural do not matter
        {**STYLE, "prompt": "no concept needed for a style model"},
    ],
)
def test_the_concept_rule_matches_case_insensitively_and_spares_style_models(
    emu: Emu, body: dict[str, Any]
) -> None:
    assert emu.generate(body, x_model_version="image4_custom").status_code == 202


def test_an_image5_model_is_listed_but_cannot_generate(emu: Emu) -> None:
    listed = emu.http.get("/v3/custom-models", params={"start": "0", "limit": "50"}, headers=emu.headers())
    assert seed.IMAGE5_MODEL_ID in {m["assetId"] for m in listed.json()["custom_models"]}

    response = emu.generate(
        {"prompt": "the mascot waving", "customModelId": seed.IMAGE5_MODEL_ID},
        x_model_version="image4_custom",
    )

    (error,) = _errors(response)
    assert error["loc"] == ["body", "customModelId"]
    assert "Image 5" in error["msg"]
    assert error["ctx"] == {"imageModel": "image5"}


def test_image3_and_image4_models_generate_with_either_custom_version(emu: Emu) -> None:
    """Adobe documents no rule from `baseModel` to `x-model-version`, so the emulator enforces none."""
    for model_id in (seed.IMAGE3_MODEL_ID, seed.STYLE_MODEL_ID):
        for version in ("image3_custom", "image4_custom"):
            body = {"prompt": "a bean", "customModelId": model_id}
            assert emu.generate(body, x_model_version=version).status_code == 202, (model_id, version)


@pytest.mark.parametrize(
    ("version", "ignored"),
    [
        ("image4_custom", ["negativePrompt", "visualIntensity"]),
        ("image3_custom", ["negativePrompt", "upsamplerType"]),
    ],
)
def test_unsupported_fields_are_accepted_ignored_and_recorded(
    emu: Emu, version: str, ignored: list[str]
) -> None:
    body = {**ROUTER, "negativePrompt": "red", "visualIntensity": 6, "upsamplerType": "low_creativity"}

    job = emu.submit(body, x_model_version=version)

    assert _job(emu, job["jobId"])["ignoredFields"] == ignored
    (logged,) = _log(emu, "generate")
    assert logged["ignoredFields"] == ignored
    assert (logged["modelVersion"], logged["customModelId"], logged["jobId"]) == (
        version,
        seed.ROUTER_MODEL_ID,
        job["jobId"],
    )
    stats = emu.http.get("/_emulator/stats").json()
    assert stats["ignoredFields"] == dict.fromkeys(ignored, 1)
    assert stats["modelVersions"] == {version: 1}


def test_supported_fields_are_not_recorded_as_ignored(emu: Emu) -> None:
    job = emu.submit({**ROUTER, "upsamplerType": "default"}, x_model_version="image4_custom")
    emu.submit({**ROUTER, "visualIntensity": 6}, x_model_version="image3_custom")

    assert _job(emu, job["jobId"])["ignoredFields"] == []
    assert [item["ignoredFields"] for item in _log(emu, "generate")] == [[], []]
    assert emu.http.get("/_emulator/stats").json()["ignoredFields"] == {}


def test_an_ignored_field_must_still_fit_the_schema(emu: Emu) -> None:
    """The spec's schema has one body for every version: a field is checked first, then ignored."""
    body = {**ROUTER, "negativePrompt": "x" * 1025, "upsamplerType": "sharpest"}

    errors = _errors(emu.generate(body, x_model_version="image4_custom"))

    assert [e["loc"] for e in errors] == [["body", "negativePrompt"], ["body", "upsamplerType"]]


def test_a_custom_model_id_without_a_custom_version_is_ignored_and_recorded(emu: Emu) -> None:
    job = emu.submit(ROUTER)  # no x-model-version: the spec's default, image3

    record = _job(emu, job["jobId"])
    assert (record["modelVersion"], record["customModelId"], record["ignoredFields"]) == (
        "image3",
        None,
        ["customModelId"],
    )
    (logged,) = _log(emu, "generate")
    assert logged["modelVersion"] is None, "the log shows the header as received"
    assert logged["customModelId"] == seed.ROUTER_MODEL_ID


def test_the_log_records_the_model_version_and_model_of_refused_requests_too(emu: Emu) -> None:
    emu.generate({**ROUTER, "size": _size(1024, 1024)}, x_model_version="image4_custom")

    (logged,) = _log(emu, "generate")
    assert (logged["status"], logged["modelVersion"], logged["customModelId"]) == (
        422,
        "image4_custom",
        seed.ROUTER_MODEL_ID,
    )
    assert (logged["jobId"], logged["ignoredFields"]) == (None, [])
