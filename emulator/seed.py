"""The custom models every fresh (or reset) emulator starts with.

The asset ids are fixed so tests and other teams can name them. Eleven models are published, one more than
the default page size, so a plain listing already needs a second page; the rest cover each training status
and each non-published state that the `publishedState` filter can select.

Each model was trained on a Firefly image model (Image 3, 4 or 5), shown in `baseModel` as Firefly lists it:
`{"name", "version"}` ("The underlying GenAI model used to train the Custom Model"). Adobe documents one value
only, `{"name": "clio_v2", "version": "2.0.0"}`, in a tutorial written for `image3_custom`, so the emulator
takes it for Image 3; the Image 4 and Image 5 values are the emulator's own inventions (`BASE_MODELS`), as
Adobe documents none and no rule from `baseModel` to `x-model-version` either. The emulator refuses to
generate with an Image 5 model (the API has no custom-model path for it) and lets Image 3 and Image 4 models
generate with either custom version.

The first model of the default listing is the Router subject model (Image 4, concept `router`): Adobe's own
Postman collection generates with `custom_models[0]`, `x-model-version: image4_custom` and a prompt that
names a router.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal

_URN = "urn:aaid:sc:VA6C2:"

ImageModel = Literal["image3", "image4", "image5"]
BASE_MODELS: dict[ImageModel, dict[str, str]] = {
    "image3": {"name": "clio_v2", "version": "2.0.0"},  # Adobe's documented example
    "image4": {"name": "firefly_image4", "version": "4.0.0"},  # invented
    "image5": {"name": "firefly_image5", "version": "5.0.0"},  # invented
}


def image_model_of(base_model: Mapping[str, Any]) -> ImageModel | None:
    """Which image model a `baseModel` names; None for one the emulator does not know."""
    for image_model, known in BASE_MODELS.items():
        if dict(base_model) == known:
            return image_model
    return None


ROUTER_MODEL_ID = _URN + "dbbb0065-edbf-466e-9e9b-617bcad30f1d"
"""Subject model from Adobe's walk-through: "Citi Signal Router Model", concept `router`, Image 4."""
STYLE_MODEL_ID = _URN + "fc66ee87-9405-49bd-8feb-132753cf5878"
"""A published style model (empty `conceptId`), Image 4."""
IMAGE3_MODEL_ID = _URN + "27650250-dec0-4c4c-91ed-7981f55535ef"
"""A published style model trained on Image 3: the tutorial's "Warm Custom Model"."""
IMAGE5_MODEL_ID = _URN + "8fa124a1-201d-4ee1-9dc4-f38cd196cf57"
"""A published subject model trained on Image 5 ("Harbor Mascot", concept `mascot`): listed, never served."""
DRAFT_MODEL_ID = _URN + "81d51f62-66f1-498a-81ea-b1e1cc9f3048"
"""Trained (ready) but never published, Image 4."""
UNPUBLISHED_MODEL_ID = _URN + "586a18d7-1721-4063-91df-e15c40bd4a32"
"""Trained, published once, then unpublished."""
TRAINING_MODEL_ID = _URN + "9e6585d9-dabe-4ea4-9335-84a3f6182954"
QUEUED_MODEL_ID = _URN + "411a9420-9234-4764-9133-cc4163839afe"
FAILED_MODEL_ID = _URN + "eae20e41-dc27-4e13-9544-ad265b96b59f"
CANCELLED_MODEL_ID = _URN + "a3c836c8-f747-4b06-84e7-63693cd71e73"

_CATALOG_UUIDS = (
    "27650250-dec0-4c4c-91ed-7981f55535ef",
    "aba678f0-c9e7-409d-b094-dca6dcd87a09",
    "8fa124a1-201d-4ee1-9dc4-f38cd196cf57",
    "1204899a-20c1-4f88-8f97-5379e9ac5843",
    "30fcd816-d788-431f-90d8-a724e6f30d42",
    "56aae9f5-5c89-4dd3-808f-18d31f30bdaa",
    "91a1d8c3-bf49-42b7-8cca-910c4952ccb5",
    "be9954ec-4148-40b8-9e42-a74f20207030",
    "42d30870-2182-4d4f-9434-729a95813c91",
)
_CATALOG_NAMES: tuple[tuple[str, str, str, ImageModel], ...] = (
    ("Warm Custom Model", "style", "", "image3"),
    ("Citi Signal Phone Model", "subject", "phone", "image4"),
    ("Harbor Mascot", "subject", "mascot", "image5"),
    ("Brand Flat Illustration", "style", "", "image4"),
    ("Autumn Catalog Look", "style", "", "image3"),
    ("Citi Signal Tablet Model", "subject", "tablet", "image4"),
    ("Product Studio Light", "style", "", "image5"),
    ("Retail Store Front", "subject", "storefront", "image3"),
    ("Watercolor Campaign", "style", "", "image4"),
)

# (assetId, displayName, trainingMode, conceptId, publishedState, trainingStatus, samplePrompt, image model)
_SEED: tuple[tuple[str, str, str, str, str, str, str, ImageModel], ...] = (
    (
        ROUTER_MODEL_ID,
        "Citi Signal Router Model",
        "subject",
        "router",
        "published",
        "ready",
        "a router on a wooden desk next to a window, soft morning light",
        "image4",
    ),
    (
        STYLE_MODEL_ID,
        "Citi Signal Brand Style",
        "style",
        "",
        "published",
        "ready",
        "a city skyline at dusk in the brand style",
        "image4",
    ),
    *(
        (
            _URN + uid,
            name,
            mode,
            concept,
            "published",
            "ready",
            f"{concept or 'a landscape'} in a bright scene",
            image_model,
        )
        for uid, (name, mode, concept, image_model) in zip(_CATALOG_UUIDS, _CATALOG_NAMES, strict=True)
    ),
    (
        DRAFT_MODEL_ID,
        "Draft Packaging Style",
        "style",
        "",
        "never",
        "ready",
        "a cereal box on a shelf",
        "image4",
    ),
    (
        UNPUBLISHED_MODEL_ID,
        "Retired Logo Style",
        "style",
        "",
        "unpublished",
        "ready",
        "a logo on a wall",
        "image3",
    ),
    (TRAINING_MODEL_ID, "Spring Campaign Style", "style", "", "never", "training", "", "image5"),
    (QUEUED_MODEL_ID, "Citi Signal Earbuds Model", "subject", "earbuds", "never", "queued", "", "image5"),
    (FAILED_MODEL_ID, "Blurry Photos Style", "style", "", "never", "failed", "", "image4"),
    (CANCELLED_MODEL_ID, "Abandoned Mascot", "subject", "mascot", "never", "cancelled", "", "image4"),
)

_FIRST_CREATED_MS = 1733928288871  # the created date of the tutorial's real response
_DAY_MS = 86_400_000


def seed_models() -> list[tuple[dict[str, Any], str]]:
    """Fresh copies of the seed models, each with its internal training status."""
    models: list[tuple[dict[str, Any], str]] = []
    for index, (asset_id, name, mode, concept, published, status, sample, image_model) in enumerate(_SEED):
        digest = hashlib.sha256(asset_id.encode()).hexdigest()
        created = _FIRST_CREATED_MS + index * 3 * _DAY_MS + int(digest[:6], 16)
        # Modified dates are not in created order, so sorting by either field gives a different page.
        modified = created + (len(_SEED) - index) * _DAY_MS + int(digest[6:12], 16)
        info: dict[str, Any] = {
            "version": "1",
            "assetName": f"{name}.ffcustommodel",
            "size": 16_000_000_000 + int(digest[12:20], 16) % 900_000_000,
            "etag": f'"{digest[:64]}"',
            "trainingMode": mode,
            "assetId": asset_id,
            "mediaType": "application/vnd.adobe.ffmodel+dcx",
            "createdDate": created,
            "modifiedDate": modified,
            "publishedState": published,
            "baseModel": dict(BASE_MODELS[image_model]),
            "samplePrompt": sample,
            "displayName": name,
            "conceptId": concept,
        }
        models.append((info, status))
    return models
