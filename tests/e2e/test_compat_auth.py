"""A bad or revoked key is a 401 on every surface, each in its own shape (problem+json on `/v1`, Firefly's
bodies on `/v3`, OAuth's on `/ims`, OpenAI's on `/v1/images` and `/v1/models`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emulator import seed
from tests.stack import Stack

pytestmark = pytest.mark.e2e

GENERATE = {"prompt": "a white router", "customModelId": seed.ROUTER_MODEL_ID}
OPENAI = {"model": seed.ROUTER_MODEL_ID, "prompt": "a white router"}


def _calls(key: str, client_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    bearer = {"Authorization": f"Bearer {key}"}
    token = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": key}
    return [
        ("GET", "/v1/custom-models", {"headers": bearer}),
        ("POST", "/v1/generations", {"headers": bearer, "json": GENERATE}),
        ("GET", "/v3/custom-models", {"headers": bearer}),
        ("POST", "/v3/images/generate-async", {"headers": bearer, "json": GENERATE}),
        ("GET", "/v3/status/gen_x", {"headers": bearer}),
        ("PUT", "/v3/cancel/gen_x", {"headers": bearer}),
        ("POST", "/ims/token/v2", {"params": token}),
        ("POST", "/v1/images/generations", {"headers": bearer, "json": OPENAI}),
        ("GET", "/v1/models", {"headers": bearer}),
    ]


def _shape(path: str, body: dict[str, Any]) -> bool:
    if path.startswith("/ims/"):
        return body.keys() == {"error", "error_description"} and body["error"] == "invalid_client"
    if path == "/v3/custom-models":
        return body.keys() == {"reason", "message"} and body["reason"] == "Unauthorized"
    if path.startswith("/v3/"):
        return body.keys() == {"error_code", "message"} and body["error_code"] == "unauthorized"
    if path in ("/v1/images/generations", "/v1/models"):
        return body.keys() == {"error"} and body["error"]["code"] == "invalid_api_key"
    return body["status"] == 401 and body["type"] == "urn:ffgate:problem:unauthorized"


@pytest.mark.parametrize("how", ["unknown", "revoked"])
def test_a_bad_or_revoked_key_is_401_on_every_surface_in_its_shape(stack: Stack, how: str) -> None:
    client_id, key = stack.create_client(scopes=["models:read", "generate"])
    if how == "revoked":
        with stack.client() as admin:
            assert admin.delete(f"/v1/admin/clients/{client_id}").status_code == 200
    else:
        key = "ffk_nobody_was_given_this_key"
    with httpx.Client(base_url=stack.gateways["gateway"], timeout=30) as gw:
        for method, path, options in _calls(key, client_id):
            response = gw.request(method, path, **options)
            assert response.status_code == 401, (path, response.text)
            assert _shape(path, response.json()), (path, response.text)
            assert response.headers["x-request-id"]
