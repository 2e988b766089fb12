"""`openapi/gateway.json` is what the app serves: regenerate it with `python -m service.openapi`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from ffgate.generations import views
from service import operations_schemas, schemas
from service.compat_errors import surface_of
from service.openapi import CHECKED_IN, render
from service.openapi_examples import EXAMPLES


def test_checked_in_openapi_is_current() -> None:
    assert CHECKED_IN.read_text() == render(), "stale: run `python -m service.openapi`"


def test_openapi_has_the_contract_paths_and_problem_errors() -> None:
    spec = json.loads(render())
    operations = {
        (method.upper(), path): op for path, ops in spec["paths"].items() for method, op in ops.items()
    }
    assert ("POST", "/v1/generations") in operations
    assert ("POST", "/v1/generations/{genId}/cancel") in operations
    assert ("GET", "/v1/custom-models/{assetId}") in operations
    create = operations[("POST", "/v1/generations")]
    assert create["operationId"] == "createGeneration"
    assert "application/problem+json" in create["responses"]["422"]["content"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def _operations() -> dict[tuple[str, str], dict[str, Any]]:
    """The gateway's own operations (the Firefly-, IMS- and OpenAI-compatible ones follow those APIs)."""
    spec = json.loads(render())
    return {
        (m.upper(), p): op
        for p, ops in spec["paths"].items()
        for m, op in ops.items()
        if surface_of(p) == "problem"
    }


def test_get_routes_never_list_body_problems_and_bodiless_ones_no_400() -> None:
    for (method, path), operation in _operations().items():
        codes = set(operation["responses"])
        if method in ("GET", "DELETE"):
            assert not codes & {"400", "413", "415"}, (method, path)
        if "requestBody" not in operation:
            assert "400" not in codes, (method, path)


def test_the_contracts_statuses_and_headers_are_documented() -> None:
    ops = _operations()
    create = ops[("POST", "/v1/generations")]["responses"]
    assert {"200", "202", "409", "502", "504"} <= create.keys()
    for code in ("200", "202"):
        assert {"Location", "Idempotent-Replayed", "Preference-Applied", "RateLimit-Limit"} <= set(
            create[code]["headers"]
        )
    assert "Location" in ops[("POST", "/v1/admin/clients")]["responses"]["201"]["headers"]
    assert {"429", "503"} <= ops[("GET", "/v1/generations/{genId}/events")]["responses"].keys()
    for path in ("/v1/custom-models", "/v1/custom-models/{assetId}"):
        assert {"502", "504"} <= ops[("GET", path)]["responses"].keys()
    for operation in ops.values():
        for code in ("429", "503"):
            if code in operation["responses"]:
                assert "Retry-After" in operation["responses"][code]["headers"]
    # a plain path string cannot fail validation: no 422 where nothing can
    assert "422" not in ops[("GET", "/v1/admin/clients/{clientId}")]["responses"]
    assert "422" not in ops[("GET", "/v1/generations/{genId}/events")]["responses"]


def test_every_body_has_an_example_that_its_model_accepts() -> None:
    spec = json.loads(render())
    modules = (schemas, views, operations_schemas)
    models = {name: next((getattr(m, name) for m in modules if hasattr(m, name)), None) for name in EXAMPLES}
    for path, ops in spec["paths"].items():
        if surface_of(path) != "problem":
            continue
        for method, operation in ops.items():
            bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
            for body in bodies:
                for media, content in body.get("content", {}).items():
                    assert "example" in content, (method, path, media)
                    name = content.get("schema", {}).get("$ref", "").rpartition("/")[2]
                    model = models.get(name) or (schemas.Problem if name == "Problem" else None)
                    if model is not None:
                        model.model_validate(content["example"])


def test_patch_nullables_match_behaviour() -> None:
    spec = json.loads(render())
    fields = spec["components"]["schemas"]["ClientUpdate"]["properties"]
    nullable = {name for name, f in fields.items() if {"type": "null"} in f.get("anyOf", [])}
    assert nullable == {"dailyImageQuota"}
    for name in ("name", "scopes", "rateLimit"):
        with pytest.raises(ValidationError, match=f"{name} cannot be null"):
            schemas.ClientUpdate.model_validate({name: None})
    assert schemas.ClientUpdate.model_validate({"dailyImageQuota": None}).changes() == {
        "daily_image_quota": None
    }
