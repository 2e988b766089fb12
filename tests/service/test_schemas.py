"""What `POST /v1/generations` accepts (service/schemas.py), and what of it goes to Firefly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from service.openai_images import ImageGenerationRequest, generation_request
from service.schemas import FireflyGenerateRequest, GenerationRequest

MINIMAL: dict[str, Any] = {"prompt": "a lighthouse at dawn", "customModelId": "urn:aaid:sc:model-1"}


def parse(**fields: Any) -> GenerationRequest:
    return GenerationRequest.model_validate({**MINIMAL, **fields})


def refused(**fields: Any) -> str:
    """The validation message for a body that must be refused."""
    with pytest.raises(ValidationError) as caught:
        GenerationRequest.model_validate({**MINIMAL, **fields})
    return str(caught.value)


def test_the_minimal_body_is_accepted() -> None:
    request = GenerationRequest.model_validate(MINIMAL)
    assert request.firefly_body() == MINIMAL


@pytest.mark.parametrize("field", ["prompt", "customModelId"])
def test_required_fields(field: str) -> None:
    body = {k: v for k, v in MINIMAL.items() if k != field}
    with pytest.raises(ValidationError, match=field):
        GenerationRequest.model_validate(body)


def test_prompt_bounds() -> None:
    assert parse(prompt="x").prompt == "x"
    assert len(parse(prompt="x" * 1024).prompt) == 1024
    assert "prompt" in refused(prompt="")
    assert "prompt" in refused(prompt="x" * 1025)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_num_variations_within_bounds(n: int) -> None:
    assert parse(numVariations=n).numVariations == n


@pytest.mark.parametrize("n", [0, 5, -1])
def test_num_variations_out_of_bounds(n: int) -> None:
    assert "numVariations" in refused(numVariations=n)


def test_seeds_must_match_num_variations() -> None:
    assert parse(numVariations=3, seeds=[1, 2, 3]).seeds == [1, 2, 3]
    assert "2 seeds given for numVariations=3" in refused(numVariations=3, seeds=[1, 2])
    assert "numVariations=1" in refused(numVariations=1, seeds=[1, 2])


def test_seeds_alone_set_the_number_of_variations() -> None:
    assert parse(seeds=[5, 6, 7]).seeds == [5, 6, 7]


def test_seeds_must_be_unique() -> None:
    assert "seeds must be unique" in refused(numVariations=2, seeds=[7, 7])


def test_seeds_bounds() -> None:
    assert "seeds" in refused(seeds=[])
    assert "seeds" in refused(seeds=[1, 2, 3, 4, 5])


@pytest.mark.parametrize(("width", "height"), [(0, 2048), (2048, 4097)])
def test_sizes_outside_firefly_bounds_are_refused(width: int, height: int) -> None:
    """Which presets a size must be depends on the model version: ffgate.upstream.versions checks that."""
    assert "size" in refused(size={"width": width, "height": height})


def test_the_model_version_is_one_of_the_custom_versions_and_not_part_of_the_firefly_body() -> None:
    assert parse(modelVersion="image3_custom").modelVersion == "image3_custom"
    assert "modelVersion" in refused(modelVersion="image4_standard")
    assert "modelVersion" not in parse(modelVersion="image4_custom").firefly_body()
    assert parse(upsamplerType="low_creativity").firefly_body()["upsamplerType"] == "low_creativity"


def test_metadata_up_to_4_kib() -> None:
    # {"k":"..."} is 8 bytes of JSON around the value
    assert parse(metadata={"k": "x" * (4096 - 8)}).metadata is not None
    assert "metadata is 4097 bytes; at most 4096" in refused(metadata={"k": "x" * (4097 - 8)})


def test_metadata_is_measured_as_the_utf8_json_the_client_sends() -> None:
    # 1,000 CJK characters are 3,000 bytes of UTF-8 JSON (3,008 with the key): within 4 KiB as sent, though
    # \uXXXX escaping would make them 6,000 bytes.
    metadata = {"k": "\u65e5" * 1000}
    assert len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode()) == 3008
    assert parse(metadata=metadata).metadata == metadata


def test_metadata_must_be_an_object() -> None:
    assert "metadata" in refused(metadata=["not", "an", "object"])


@pytest.mark.parametrize(
    "fields",
    [
        {"colour": "blue"},
        {"size": {"width": 1024, "height": 1024, "depth": 3}},
        {"style": {"presets": ["bw"], "mood": "calm"}},
    ],
)
def test_unknown_fields_are_refused(fields: dict[str, Any]) -> None:
    assert "Extra inputs are not permitted" in refused(**fields)


def test_other_bounds() -> None:
    assert "visualIntensity" in refused(visualIntensity=11)
    assert "contentClass" in refused(contentClass="painting")
    assert "promptBiasingLocaleCode" in refused(promptBiasingLocaleCode="english")
    assert "strength" in refused(style={"strength": 0})
    assert "presets must be unique" in refused(style={"presets": ["bw", "bw"]})
    assert "exactly one of url or uploadId" in refused(style={"imageReference": {"source": {}}})


def test_firefly_body_leaves_out_metadata_and_unset_fields() -> None:
    request = parse(
        numVariations=2,
        seeds=[11, 12],
        size={"width": 1344, "height": 768},
        negativePrompt=None,
        style={"presets": ["bw"], "strength": 40},
        metadata={"ticket": "OPS-1"},
    )
    assert request.firefly_body() == {
        **MINIMAL,
        "numVariations": 2,
        "seeds": [11, 12],
        "size": {"width": 1344, "height": 768},
        "style": {"presets": ["bw"], "strength": 40},
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"numVariations": "2"},
        {"numVariations": True},
        {"seeds": ["7"]},
        {"seeds": [True]},
        {"visualIntensity": "5"},
        {"style": {"strength": "50"}},
        {"size": {"width": 2048, "height": "2048"}},
        {"prompt": 5},
    ],
)
def test_no_type_is_coerced(fields: dict[str, Any]) -> None:
    assert next(iter(fields)) in refused(**fields)


def test_metadata_depth_is_limited_and_named() -> None:
    def nested(levels: int) -> dict[str, Any]:
        value: dict[str, Any] = {}
        for _ in range(levels - 1):
            value = {"a": [value]}
        return value

    assert parse(metadata=nested(8)).metadata == nested(8)  # 8 objects inside 7 arrays: 15 levels
    assert "metadata is nested 17 levels deep; at most 16" in refused(metadata=nested(9))
    assert "nested 599 levels deep" in refused(metadata=nested(300))


def test_an_integral_json_number_is_an_integer() -> None:
    assert parse(numVariations=2.0, seeds=[7.0, 8]).seeds == [7, 8]
    assert "numVariations" in refused(numVariations=2.5)
    assert "numVariations" in refused(numVariations=float("nan"))


def test_no_cache_is_an_extension_of_the_firefly_compatible_body_only() -> None:
    body = FireflyGenerateRequest.model_validate({**MINIMAL, "seeds": [7], "noCache": True})
    assert body.noCache is True
    # Never sent to Firefly, and not part of what an Idempotency-Key fingerprints (like the header).
    assert body.firefly_body() == {**MINIMAL, "seeds": [7]}
    assert body.as_given() == {**MINIMAL, "seeds": [7]}
    assert FireflyGenerateRequest.model_validate(MINIMAL).noCache is False
    with pytest.raises(ValidationError, match="noCache"):
        FireflyGenerateRequest.model_validate({**MINIMAL, "noCache": "yes"})  # no coercion
    assert "noCache" in refused(noCache=True)  # the native body has the header instead


def test_an_openai_seed_pins_every_image_and_cache_takes_only_no_cache() -> None:
    asked = ImageGenerationRequest.model_validate(
        {"model": "m", "prompt": "a lamp", "n": 3, "seed": 40, "cache": {"no-cache": True}}
    )
    assert asked.no_cache is True
    wanted = generation_request(asked, "urn:aaid:sc:model-1")
    assert wanted.seeds == [40, 41, 42] and wanted.numVariations == 3
    assert "cache" not in wanted.firefly_body() and "seed" not in wanted.firefly_body()
    plain = ImageGenerationRequest.model_validate({"model": "m", "prompt": "a lamp"})
    assert plain.no_cache is False and generation_request(plain, "urn:aaid:sc:model-1").seeds is None
    with pytest.raises(ValidationError, match="ttl"):
        ImageGenerationRequest.model_validate({"model": "m", "prompt": "a lamp", "cache": {"ttl": 60}})
