from __future__ import annotations

from typing import Any

import pytest

from emulator import seed
from tests.emulator.conftest import Emu

MODEL_FIELDS = {
    "version",
    "assetName",
    "size",
    "etag",
    "trainingMode",
    "assetId",
    "mediaType",
    "createdDate",
    "modifiedDate",
    "publishedState",
    "baseModel",
    "samplePrompt",
    "displayName",
    "conceptId",
}


def _list(emu: Emu, **params: Any) -> dict[str, Any]:
    response = emu.http.get("/v3/custom-models", params=params, headers=emu.headers())
    assert response.status_code == 200, response.text
    return dict(response.json())


def _ids(body: dict[str, Any]) -> list[str]:
    return [model["assetId"] for model in body["custom_models"]]


def test_default_listing_is_published_models_ten_per_page(emu: Emu) -> None:
    first = _list(emu)

    assert first["total_count"] == 11
    assert len(first["custom_models"]) == 10
    assert {m["publishedState"] for m in first["custom_models"]} == {"published"}
    assert first["_links"]["page"] == {
        "href": "/v3/custom-models?start={start}&limit={limit}",
        "rel": "page",
        "templated": True,
    }
    next_link = first["_links"]["next"]
    assert next_link["rel"] == "next" and next_link["templated"] is False

    second = emu.http.get(next_link["href"], headers=emu.headers()).json()

    assert len(second["custom_models"]) == 1
    assert "next" not in second["_links"]
    assert set(_ids(first)).isdisjoint(_ids(second))


def test_walking_all_models_with_next_links(emu: Emu) -> None:
    seen: list[str] = []
    href: str | None = "/v3/custom-models?start=0&limit=5&publishedState=all"
    while href:
        body = emu.http.get(href, headers=emu.headers()).json()
        seen += _ids(body)
        href = body["_links"].get("next", {}).get("href")

    assert len(seen) == len(set(seen)) == body["total_count"] == 17
    assert seed.ROUTER_MODEL_ID in seen


def test_router_model_matches_the_documented_shape(emu: Emu) -> None:
    models = {m["assetId"]: m for m in _list(emu, start="0", limit="50")["custom_models"]}
    router = models[seed.ROUTER_MODEL_ID]

    assert set(router) == MODEL_FIELDS
    assert router["displayName"] == "Citi Signal Router Model"
    assert router["trainingMode"] == "subject"
    assert router["conceptId"] == "router"
    assert router["assetId"].startswith("urn:aaid:sc:VA6C2:")
    assert isinstance(router["createdDate"], int) and isinstance(router["modifiedDate"], int)
    assert router["baseModel"] == seed.BASE_MODELS["image4"]
    assert models[seed.STYLE_MODEL_ID]["conceptId"] == ""
    # Adobe's one documented baseModel, in a tutorial written for image3_custom.
    assert models[seed.IMAGE3_MODEL_ID]["baseModel"] == {"name": "clio_v2", "version": "2.0.0"}
    assert set(models[seed.IMAGE5_MODEL_ID]["baseModel"]) == {"name", "version"}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("training", {seed.TRAINING_MODEL_ID}),
        ("queued", {seed.QUEUED_MODEL_ID}),
        ("failed", {seed.FAILED_MODEL_ID}),
        ("cancelled", {seed.CANCELLED_MODEL_ID}),
        ("unpublished", {seed.UNPUBLISHED_MODEL_ID}),
    ],
)
def test_published_state_filter(emu: Emu, state: str, expected: set[str]) -> None:
    assert set(_ids(_list(emu, publishedState=state))) == expected


def test_ready_filter_includes_unpublished_trained_models(emu: Emu) -> None:
    ready = set(_ids(_list(emu, publishedState="ready", start="0", limit="50")))

    assert {seed.ROUTER_MODEL_ID, seed.DRAFT_MODEL_ID, seed.UNPUBLISHED_MODEL_ID} <= ready
    assert seed.TRAINING_MODEL_ID not in ready
    assert len(ready) == 13


@pytest.mark.parametrize("field", ["assetName", "createdDate", "modifiedDate"])
def test_sorting_ascending_and_descending(emu: Emu, field: str) -> None:
    ascending = _list(emu, sortBy=field, publishedState="all", start="0", limit="50")["custom_models"]
    descending = _list(emu, sortBy=f"-{field}", publishedState="all", start="0", limit="50")["custom_models"]

    def key(model: dict[str, Any]) -> Any:
        return model[field].casefold() if field == "assetName" else model[field]

    assert ascending == sorted(ascending, key=key)
    assert descending == sorted(ascending, key=key, reverse=True)


@pytest.mark.parametrize(
    "params",
    [
        {"sortBy": "assetName,modifiedDate"},
        {"sortBy": "size"},
        {"limit": "5"},
        {"start": "0", "limit": "0"},
        {"start": "0", "limit": "51"},
        {"start": "0", "limit": "ten"},
        {"start": "-1"},
        {"publishedState": "draft"},
    ],
)
def test_bad_queries_are_400(emu: Emu, params: dict[str, str]) -> None:
    response = emu.http.get("/v3/custom-models", params=params, headers=emu.headers())

    assert response.status_code == 400
    assert response.json()["reason"] == "Bad Request"
    assert response.json()["message"]


@pytest.mark.parametrize(("accept", "status"), [("image/png", 406), ("application/json", 200), ("*/*", 200)])
def test_accept_header(emu: Emu, accept: str, status: int) -> None:
    response = emu.http.get("/v3/custom-models", headers=emu.headers(accept=accept))

    assert response.status_code == status
    if status == 406:
        assert response.json()["reason"] == "Not Acceptable"


def test_models_added_and_removed_through_the_control_api(emu: Emu) -> None:
    asset_id = "urn:aaid:sc:VA6C2:11111111-2222-4333-8444-555555555555"
    added = emu.http.post(
        "/_emulator/models",
        json={"assetId": asset_id, "displayName": "Test Model", "publishedState": "published"},
    )
    assert added.status_code == 200
    assert added.json()["assetName"] == "Test Model.ffcustommodel"
    assert asset_id in _ids(_list(emu, start="0", limit="50"))

    assert emu.http.delete(f"/_emulator/models/{asset_id}").status_code == 204
    assert asset_id not in _ids(_list(emu, start="0", limit="50"))
    assert emu.http.delete(f"/_emulator/models/{asset_id}").status_code == 404


def test_a_model_added_with_an_image_model_gets_its_base_model_and_rules(emu: Emu) -> None:
    asset_id = "urn:aaid:sc:VA6C2:22222222-3333-4444-8555-666666666666"
    added = emu.http.post(
        "/_emulator/models",
        json={"assetId": asset_id, "publishedState": "published", "imageModel": "image5"},
    ).json()

    assert (added["baseModel"], added["imageModel"]) == (seed.BASE_MODELS["image5"], "image5")
    listed = {m["assetId"]: m for m in _list(emu, start="0", limit="50")["custom_models"]}[asset_id]
    assert set(listed) == MODEL_FIELDS, "imageModel and trainingStatus are the emulator's own"
    control = {m["assetId"]: m for m in emu.http.get("/_emulator/models").json()}
    assert control[seed.ROUTER_MODEL_ID]["imageModel"] == "image4"
    assert control[seed.IMAGE3_MODEL_ID]["imageModel"] == "image3"
    refused = emu.generate({"prompt": "x", "customModelId": asset_id}, x_model_version="image4_custom")
    assert refused.status_code == 422
    assert refused.json()["validation_errors"][0]["ctx"] == {"imageModel": "image5"}
