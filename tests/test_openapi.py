"""`openapi/gateway.json` is what the app serves: regenerate it with `python -m service.openapi`."""

from __future__ import annotations

import json

from service.openapi import CHECKED_IN, render


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
