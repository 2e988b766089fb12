"""Validation of the `POST /v3/images/generate-async` body (firefly-api.md §3.1), per model version.

Errors are collected, not raised one by one, and worded the way Firefly's pydantic-v1 backend words them:
`{"loc": ["body", ...], "msg": ..., "type": ..., "ctx"?: ...}`.

What depends on `x-model-version` (Adobe's spec, `GenerateImagesRequestV3`, and firefly-api-2026-12.md §1.1):
- the size presets: the Image 3 list for `image3*`, the Image 4 list for `image4*`; any other size is refused;
- `customModelId` is required with a `*_custom` version, and a subject model's `conceptId` must appear in the
  prompt (case-insensitively);
- fields the version does not support are checked against the schema like any other, then ignored, not
  refused (Adobe's own Postman collection sends `negativePrompt` with `image4_custom` and succeeds); they are
  returned in `ignored_fields` so the emulator can record them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

IMAGE3_SIZES = (
    (2048, 2048),
    (1024, 1024),
    (2304, 1792),
    (1792, 2304),
    (2688, 1536),
    (2688, 1512),
    (1344, 768),
    (1344, 756),
    (1152, 896),
    (896, 1152),
)
IMAGE4_SIZES = ((2048, 2048), (2304, 1792), (1792, 2304), (2688, 1536), (1440, 2560))
MODEL_VERSIONS = ("image3", "image3_custom", "image4_standard", "image4_ultra", "image4_custom")
DEFAULT_MODEL_VERSION = "image3"  # the spec's default when the header is absent
# Accepted in the body, not used by the version. `negativePrompt`: "Not supported for Firefly Custom Models on
# Image Model 3 or ... Image Model 4"; `visualIntensity`: "not supported with the model version
# `image4_custom`"; `upsamplerType`: "Only supported with the model version `image4_custom`"; `customModelId`
# only means something with a `*_custom` version.
UNSUPPORTED_FIELDS: dict[str, tuple[str, ...]] = {
    "image3": ("upsamplerType", "customModelId"),
    "image3_custom": ("negativePrompt", "upsamplerType"),
    "image4_standard": ("upsamplerType", "customModelId"),
    "image4_ultra": ("upsamplerType", "customModelId"),
    "image4_custom": ("negativePrompt", "visualIntensity"),
}
CONTENT_CLASSES = ("photo", "art")
# Adobe documents the ids (style-presets guide) but no enum; unknown ids are refused here.
_PRESET_IDS = """
graphic wireframe vector_look bw cool_colors golden monochromatic muted_color pastel_color
toned_image vibrant_colors warm_tone closeup knolling landscape_photography macrophotography
photographed_through_window shallow_depth_of_field shot_from_above shot_from_below surface_detail
wide_angle beautiful bohemian chaotic dais divine eclectic futuristic kitschy nostalgic simple
antique_photo bioluminescent bokeh color_explosion dark faded_image fisheye gomori_photography
grainy_film iridescent isometric misty neon otherworldly_depiction ultraviolet underwater
backlighting dramatic_light golden_hour harsh_light long low_lighting multiexposure studio_light
surreal_lighting 3d_patterns charcoal claymation fabric fur guilloche_patterns layered_paper
marble_sculpture made_of_metal origami paper_mache polka strange_patterns wood_carving yarn art_deco
art_nouveau baroque bauhaus constructivism cubism cyberpunk fantasy fauvism film_noir glitch_art
impressionism industrialism maximalism minimalism modern_art modernism neo pointillism psychedelic
science_fiction steampunk surrealism synthetism synthwave vaporwave acrylic_paint bold_lines
chiaroscuro color_shift_art daguerreotype digital_fractal doodle_drawing double_exposure_portrait
fresco geometric_pen halftone ink light_painting line_drawing linocut oil_paint paint_spattering
painting palette_knife photo_manipulation scribble_texture sketch splattering stippling_drawing
watercolor 3d anime cartoon cinematic comic_book concept_art cyber_matrix digital_art flat_design
geometric glassmorphism glitch_graphic graffiti hyper_realistic interior_design line_gradient
low_poly newspaper_collage optical_illusion pattern_pixel pixel_art pop_art product_photo
psychedelic_background psychedelic_wonderland scandinavian splash_images stamp trompe_loeil
"""
STYLE_PRESETS = frozenset(_PRESET_IDS.split())
_LOCALE = re.compile(r"^[a-z]{2}-[A-Z]{2}$")

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What validation needs to know of a custom model."""

    training_status: str
    training_mode: str
    concept_id: str
    image_model: (
        str | None
    )  # "image3" | "image4" | "image5"; None for a base model the emulator does not know


# Looks a custom model id up: None when there is no such model.
ModelLookup = Callable[[str], ModelFacts | None]


class InvalidRequest(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} validation error(s)")
        self.errors = errors


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    prompt: str
    num_variations: int
    seeds: list[int] | None
    width: int
    height: int
    content_class: str | None
    model_version: str
    custom_model_id: str | None
    ignored_fields: tuple[str, ...] = ()


_BOUNDS = {
    "min_length": ("ensure this value has at least {} characters", "value_error.any_str.min_length"),
    "max_length": ("ensure this value has at most {} characters", "value_error.any_str.max_length"),
    "not_ge": ("ensure this value is greater than or equal to {}", "value_error.number.not_ge"),
    "not_le": ("ensure this value is less than or equal to {}", "value_error.number.not_le"),
    "min_items": ("ensure this value has at least {} items", "value_error.list.min_items"),
    "max_items": ("ensure this value has at most {} items", "value_error.list.max_items"),
}


class _Checker:
    """Each check returns the value when it passes, else records the error and returns None."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def fail(self, loc: Loc, msg: str, type_: str, **ctx: Any) -> None:
        error: dict[str, Any] = {"loc": ["body", *loc], "msg": msg, "type": type_}
        if ctx:
            error["ctx"] = ctx
        self.errors.append(error)

    def bound(self, loc: Loc, kind: str, limit: int) -> None:
        msg, type_ = _BOUNDS[kind]
        self.fail(loc, msg.format(limit), type_, limit_value=limit)

    def string(self, loc: Loc, value: Any, min_len: int = 0, max_len: int | None = None) -> str | None:
        if not isinstance(value, str):
            self.fail(loc, "str type expected", "type_error.str")
            return None
        if len(value) < min_len:
            self.bound(loc, "min_length", min_len)
            return None
        if max_len is not None and len(value) > max_len:
            self.bound(loc, "max_length", max_len)
            return None
        return value

    def integer(self, loc: Loc, value: Any, low: int | None = None, high: int | None = None) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(loc, "value is not a valid integer", "type_error.integer")
            return None
        if low is not None and value < low:
            self.bound(loc, "not_ge", low)
            return None
        if high is not None and value > high:
            self.bound(loc, "not_le", high)
            return None
        return int(value)

    def enum(self, loc: Loc, value: Any, allowed: tuple[str, ...]) -> str | None:
        if value not in allowed:
            permitted = ", ".join(f"'{a}'" for a in allowed)
            msg = f"value is not a valid enumeration member; permitted: {permitted}"
            self.fail(loc, msg, "type_error.enum", enum_values=list(allowed))
            return None
        return str(value)

    def mapping(self, loc: Loc, value: Any) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.fail(loc, "value is not a valid dict", "type_error.dict")
            return None
        return value

    def items(self, loc: Loc, value: Any, min_items: int, max_items: int | None) -> list[Any] | None:
        if not isinstance(value, list):
            self.fail(loc, "value is not a valid list", "type_error.list")
            return None
        if len(value) < min_items:
            self.bound(loc, "min_items", min_items)
            return None
        if max_items is not None and len(value) > max_items:
            self.bound(loc, "max_items", max_items)
            return None
        if len({repr(v) for v in value}) != len(value):
            self.fail(loc, "the list has duplicated items", "value_error.list.unique_items")
            return None
        return value

    def reference(self, loc: Loc, value: Any) -> None:
        ref = self.mapping(loc, value)
        source = None if ref is None else self.mapping((*loc, "source"), ref.get("source"))
        if source is None:
            return
        has_url, has_upload = "url" in source, "uploadId" in source
        if has_url == has_upload:
            self.fail((*loc, "source"), "exactly one of url or uploadId is required", "value_error")
        elif has_url:
            self.string((*loc, "source", "url"), source["url"], 1, 2083)
        else:
            upload_id = self.string((*loc, "source", "uploadId"), source["uploadId"], 1)
            if upload_id is not None and not _is_uuid(upload_id):
                self.fail((*loc, "source", "uploadId"), "value is not a valid uuid", "type_error.uuid")

    def options(self, name: str, value: Any, strength_low: int) -> None:
        group = self.mapping((name,), value)
        if group is None:
            return
        if "strength" in group:
            self.integer((name, "strength"), group["strength"], strength_low, 100)
        if "imageReference" in group:
            self.reference((name, "imageReference"), group["imageReference"])
        if name == "style" and "presets" in group:
            presets = self.items((name, "presets"), group["presets"], 0, None)
            for index, preset in enumerate(presets or []):
                if not isinstance(preset, str) or preset not in STYLE_PRESETS:
                    self.fail(
                        (name, "presets", index), f"unknown style preset: {preset!r}", "value_error.preset"
                    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def size_family(version: str) -> str:
    return "image4" if version.startswith("image4") else "image3"


def validate_generate(body: Any, model_version: str | None, lookup: ModelLookup) -> GenerateRequest:
    """The accepted request, or `InvalidRequest` carrying every problem found."""
    check = _Checker()
    version = DEFAULT_MODEL_VERSION if model_version is None else model_version
    if version not in MODEL_VERSIONS:
        check.enum((), version, MODEL_VERSIONS)
        check.errors[-1]["loc"] = ["header", "x-model-version"]
    body = check.mapping((), body)
    if body is None:
        raise InvalidRequest(check.errors)

    prompt = check.string(("prompt",), body["prompt"], 1, 1024) if "prompt" in body else None
    if "prompt" not in body:
        check.fail(("prompt",), "field required", "value_error.missing")
    if "negativePrompt" in body:
        check.string(("negativePrompt",), body["negativePrompt"], 0, 1024)

    num = check.integer(("numVariations",), body["numVariations"], 1, 4) if "numVariations" in body else None
    seeds = check.items(("seeds",), body["seeds"], 1, 4) if "seeds" in body else None
    if seeds is not None:
        if any(check.integer(("seeds", i), seed) is None for i, seed in enumerate(seeds)):
            seeds = None
        elif num is not None and num != len(seeds):
            check.fail(
                ("seeds",),
                "the number of seeds must match numVariations",
                "value_error.seeds_count",
                numVariations=num,
                seeds=len(seeds),
            )

    width, height = _size(check, body.get("size"), version) if "size" in body else (2048, 2048)
    content_class = (
        check.enum(("contentClass",), body["contentClass"], CONTENT_CLASSES)
        if "contentClass" in body
        else None
    )
    if "visualIntensity" in body:
        check.integer(("visualIntensity",), body["visualIntensity"], 2, 10)
    if "style" in body:
        check.options("style", body["style"], 1)
    if "structure" in body:
        check.options("structure", body["structure"], 0)
    if "promptBiasingLocaleCode" in body:
        locale = check.string(("promptBiasingLocaleCode",), body["promptBiasingLocaleCode"])
        if locale is not None and not _LOCALE.match(locale):
            check.fail(
                ("promptBiasingLocaleCode",),
                f'string does not match regex "{_LOCALE.pattern}"',
                "value_error.str.regex",
                pattern=_LOCALE.pattern,
            )
    if "upsamplerType" in body:
        check.enum(("upsamplerType",), body["upsamplerType"], ("default", "low_creativity"))

    custom_model_id = None
    if version.endswith("_custom"):
        if "customModelId" not in body:
            check.fail(
                ("customModelId",), f"field required when x-model-version is {version}", "value_error.missing"
            )
        else:
            custom_model_id = check.string(("customModelId",), body["customModelId"], 1)
            if custom_model_id is not None:
                _check_model(check, custom_model_id, lookup(custom_model_id), version, prompt)
    elif "customModelId" in body:
        check.string(("customModelId",), body["customModelId"], 1)

    if check.errors or prompt is None:
        raise InvalidRequest(check.errors)
    ignored = tuple(name for name in UNSUPPORTED_FIELDS.get(version, ()) if name in body)
    return GenerateRequest(
        prompt=prompt,
        num_variations=num if num is not None else len(seeds) if seeds else 1,
        seeds=[int(s) for s in seeds] if seeds else None,
        width=width,
        height=height,
        content_class=content_class,
        model_version=version,
        custom_model_id=custom_model_id,
        ignored_fields=ignored,
    )


def _check_model(
    check: _Checker, asset_id: str, model: ModelFacts | None, version: str, prompt: str | None
) -> None:
    loc: Loc = ("customModelId",)
    if model is None:
        check.fail(loc, f"custom model {asset_id} was not found", "value_error.custom_model")
    elif model.training_status != "ready":
        message = f"custom model {asset_id} is not trained (status: {model.training_status})"
        check.fail(loc, message, "value_error.custom_model")
    elif model.image_model == "image5":
        # Adobe's API has no custom-model path for Image 5 (no `image5_custom`; `/v4` takes no customModelId).
        message = (
            f"custom model {asset_id} was trained on Firefly Image 5, which x-model-version {version} cannot "
            "serve: only Image 3 and Image 4 custom models can generate through this API"
        )
        check.fail(loc, message, "value_error.custom_model.base_model", imageModel="image5")
    elif model.training_mode == "subject" and model.concept_id and prompt is not None:
        concept = model.concept_id
        if concept.casefold() not in prompt.casefold():
            message = f"the prompt must contain the concept '{concept}' of subject model {asset_id}"
            check.fail(("prompt",), message, "value_error.concept_missing", conceptId=concept)


def _size(check: _Checker, value: Any, version: str) -> tuple[int, int]:
    size = check.mapping(("size",), value)
    if size is None:
        return 0, 0
    missing = [key for key in ("width", "height") if key not in size]
    for key in missing:
        check.fail(("size", key), "field required", "value_error.missing")
    if missing:
        return 0, 0
    width = check.integer(("size", "width"), size["width"], 1, 4096)
    height = check.integer(("size", "height"), size["height"], 1, 4096)
    if width is None or height is None:
        return 0, 0
    presets = IMAGE4_SIZES if size_family(version) == "image4" else IMAGE3_SIZES
    if (width, height) not in presets:
        permitted = ", ".join(f"{w}x{h}" for w, h in presets)
        check.fail(
            ("size",),
            f"size {width}x{height} is not supported with x-model-version {version}; permitted: {permitted}",
            "value_error.size",
            permitted=[{"width": w, "height": h} for w, h in presets],
        )
    return width, height
