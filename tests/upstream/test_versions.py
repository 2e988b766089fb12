"""The per-version rules of the gateway (ffgate.upstream.versions), against what Adobe documents."""

from __future__ import annotations

from typing import Any

import pytest

from ffgate.upstream import versions
from tests.model_versions import SIZE_PRESETS, UNSUPPORTED_FIELDS

SUBJECT = {
    "assetId": "urn:m:router",
    "trainingMode": "subject",
    "conceptId": "router",
    "publishedState": "published",
}
STYLE = {"assetId": "urn:m:style", "trainingMode": "style", "conceptId": "", "publishedState": "published"}


def test_the_tables_are_adobes() -> None:
    assert {v: set(s) for v, s in versions.SIZES.items()} == SIZE_PRESETS
    assert {v: set(f) for v, f in versions.UNSUPPORTED.items()} == UNSUPPORTED_FIELDS
    assert set(versions.MODEL_VERSIONS) == set(SIZE_PRESETS)


@pytest.mark.parametrize("version", sorted(SIZE_PRESETS))
def test_each_preset_of_a_version_passes_and_others_are_refused_naming_the_allowed(version: str) -> None:
    for width, height in SIZE_PRESETS[version]:
        assert versions.check(_body(width, height), version, STYLE).ok
    other = next(
        s for v, sizes in SIZE_PRESETS.items() if v != version for s in sizes - SIZE_PRESETS[version]
    )
    checked = versions.check(_body(*other), version, STYLE)
    assert checked.errors[0]["loc"] == ["body", "size"]
    message = checked.errors[0]["msg"]
    assert f"{other[0]}x{other[1]}" in message and version in message
    assert all(f"{w}x{h}" in message for w, h in SIZE_PRESETS[version])


def test_a_subject_models_concept_is_required_in_the_prompt_case_insensitively() -> None:
    refused = versions.check({"prompt": "a lamp on a desk"}, "image4_custom", SUBJECT)
    assert refused.errors == [{"loc": ["body", "prompt"], "msg": refused.errors[0]["msg"]}]
    assert "'router'" in refused.errors[0]["msg"]
    assert versions.check({"prompt": "a white ROUTER on a desk"}, "image4_custom", SUBJECT).ok
    assert versions.check({"prompt": "a lamp on a desk"}, "image4_custom", STYLE).ok


@pytest.mark.parametrize("version", sorted(UNSUPPORTED_FIELDS))
def test_unsupported_fields_are_dropped_and_named_in_warnings(version: str) -> None:
    body: dict[str, Any] = {
        "prompt": "a router",
        "negativePrompt": "red",
        "visualIntensity": 5,
        "upsamplerType": "default",
    }
    checked = versions.check(body, version, SUBJECT)
    assert checked.ok
    dropped = set(body) - set(checked.body)
    assert dropped == UNSUPPORTED_FIELDS[version]
    assert all(
        any(name in warning and version in warning for warning in checked.warnings) for name in dropped
    )


def _body(width: int, height: int) -> dict[str, Any]:
    return {"prompt": "a landscape", "size": {"width": width, "height": height}}
