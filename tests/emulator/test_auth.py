from __future__ import annotations

import pytest

from tests.emulator.conftest import GOOD_BODY, Emu

MODELS_401 = {"reason": "Unauthorized", "message": "Authorization Token is not accepted."}
MODELS_403 = {"reason": "Forbidden", "message": "API Key is not accepted."}
API_401 = {"error_code": "401013", "message": "Oauth token is not valid"}


def _call(emu: Emu, endpoint: str, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    job_path = "urn:ff:jobs:emu001:00000000-0000-4000-8000-000000000000"
    if endpoint == "models":
        response = emu.http.get("/v3/custom-models", headers=headers)
    elif endpoint == "generate":
        response = emu.http.post("/v3/images/generate-async", json=GOOD_BODY, headers=headers)
    elif endpoint == "status":
        response = emu.http.get(f"/v3/status/{job_path}", headers=headers)
    else:
        response = emu.http.put(f"/v3/cancel/{job_path}", headers=headers)
    return response.status_code, response.json()


@pytest.mark.parametrize("endpoint", ["models", "generate", "status", "cancel"])
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic abc"])
def test_missing_or_unknown_token_is_401(emu: Emu, endpoint: str, authorization: str | None) -> None:
    headers = {"x-api-key": emu.settings.client_id}
    if authorization:
        headers["authorization"] = authorization

    status, body = _call(emu, endpoint, headers)

    assert status == 401
    assert body == (MODELS_401 if endpoint == "models" else API_401)


@pytest.mark.parametrize("endpoint", ["models", "generate", "status", "cancel"])
@pytest.mark.parametrize("api_key", [None, "another-client"])
def test_missing_or_wrong_api_key_is_403(emu: Emu, endpoint: str, api_key: str | None) -> None:
    headers = emu.headers()
    del headers["x-api-key"]
    if api_key:
        headers["x-api-key"] = api_key

    status, body = _call(emu, endpoint, headers)

    assert status == 403
    if endpoint == "models":
        assert body == MODELS_403
    else:
        assert body["error_code"] == "access_error"


def test_request_id_is_optional_echoed_and_recorded(emu: Emu) -> None:
    with_id = emu.generate(x_request_id="req-123")
    without_id = emu.generate()

    assert with_id.status_code == without_id.status_code == 202
    assert with_id.headers["x-request-id"] == "req-123"
    assert without_id.headers["x-request-id"]
    items = emu.http.get("/_emulator/requests").json()["items"]
    generates = [item for item in items if item["endpoint"] == "generate"]
    assert [item["requestId"] for item in generates] == ["req-123", None]
    assert generates[0]["jobId"] == with_id.json()["jobId"]
