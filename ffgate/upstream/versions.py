"""The custom-model versions Firefly serves, and what each accepts: the one place these rules live.

From Adobe's spec (`AdobeDocs/ffs-firefly-api` `static/firefly-api.json`, `GenerateImagesRequestV3`; see
shared/research/firefly-api-2026-12.md §1.1):
- `x-model-version` for a custom model is `image3_custom` or `image4_custom`; the size must be one of that
  version's presets;
- a subject model's `conceptId` must appear in the prompt;
- `negativePrompt` is "not supported for Firefly Custom Models on Image Model 3 or Image Model 4",
  `visualIntensity` is "not supported with the model version image4_custom" and `upsamplerType` is "only
  supported with the model version image4_custom". Adobe's own Postman collection sends `negativePrompt`
  with `image4_custom` and its tutorial shows the job succeeding, so such fields are accepted, dropped
  before the request goes upstream, and named in the generation's warnings.

`check` applies them to a request once its version is resolved; nothing is queued when it finds errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ModelVersion = Literal["image4_custom", "image3_custom"]
MODEL_VERSIONS: tuple[ModelVersion, ...] = ("image4_custom", "image3_custom")

SIZES: dict[str, tuple[tuple[int, int], ...]] = {
    "image3_custom": (
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
    ),
    "image4_custom": ((2048, 2048), (2304, 1792), (1792, 2304), (2688, 1536), (1440, 2560)),
}
DEFAULT_SIZE = (2048, 2048)  # Firefly's default when a request gives none (a preset of both versions)
UNSUPPORTED: dict[str, tuple[str, ...]] = {
    "image4_custom": ("negativePrompt", "visualIntensity"),
    "image3_custom": ("negativePrompt", "upsamplerType"),
}


@dataclass(frozen=True)
class Checked:
    """A request checked against its version: what to send upstream, what to warn of, what is wrong."""

    body: dict[str, Any]  # the Firefly fields to send (unsupported ones removed)
    warnings: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def sizes_text(version: str) -> str:
    return ", ".join(f"{w}x{h}" for w, h in SIZES[version])


def size_error(width: int, height: int, version: str) -> str | None:
    """Why `width`x`height` cannot be generated with `version` (None: it can)."""
    if (width, height) in SIZES[version]:
        return None
    return f"Size {width}x{height} is not a preset of {version}; use one of {sizes_text(version)}."


def check(body: Mapping[str, Any], version: str, model: Mapping[str, Any]) -> Checked:
    """Apply the rules of `version` to `body` (the Firefly fields of a request) for `model` (as listed)."""
    errors: list[dict[str, Any]] = []
    size = body.get("size")
    if isinstance(size, Mapping):
        problem = size_error(int(size["width"]), int(size["height"]), version)
        if problem:
            errors.append({"loc": ["body", "size"], "msg": problem})
    concept = str(model.get("conceptId") or "")
    prompt = str(body.get("prompt") or "")
    if model.get("trainingMode") == "subject" and concept and concept.casefold() not in prompt.casefold():
        message = (
            f"The prompt must mention '{concept}', the concept of subject model {model.get('assetId')}: "
            "Firefly applies a subject model where the prompt names its concept."
        )
        errors.append({"loc": ["body", "prompt"], "msg": message})
    dropped = [name for name in UNSUPPORTED[version] if body.get(name) is not None]
    warnings = [f"{name} is not supported with {version}; it was not sent to Firefly." for name in dropped]
    if model.get("publishedState") not in (None, "published"):
        warnings.append(f"The model is {model.get('publishedState')}, not published.")
    sent = {name: value for name, value in body.items() if name not in dropped}
    return Checked(sent, warnings, errors)
