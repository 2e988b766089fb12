from __future__ import annotations

import time

import pytest

from tests.emulator.conftest import Emu


def test_issues_unique_jwt_shaped_bearer_tokens(emu: Emu) -> None:
    first = emu.http.post("/ims/token/v3", data=emu.token_form())
    second = emu.http.post("/ims/token/v3", data=emu.token_form())

    assert first.status_code == 200
    body = first.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399
    assert len(body["access_token"].split(".")) == 3
    assert body["access_token"] != second.json()["access_token"]
    stats = emu.http.get("/_emulator/stats").json()
    assert (stats["tokenRequests"], stats["tokensIssued"]) == (2, 2)


def test_accepts_parameters_in_the_query_string(emu: Emu) -> None:
    response = emu.http.post("/ims/token/v3", params=emu.token_form())

    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


def test_accepts_an_unencoded_body_like_the_official_sdk(emu: Emu) -> None:
    form = emu.token_form()
    raw = "&".join(f"{k}={v}" for k, v in form.items())

    response = emu.http.post(
        "/ims/token/v3", content=raw, headers={"content-type": "application/x-www-form-urlencoded"}
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"client_secret": None}, 400, "invalid_request"),
        ({"scope": None}, 400, "invalid_request"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "someone-else"}, 401, "invalid_client"),
        ({"scope": ""}, 400, "invalid_scope"),
        ({"scope": " , "}, 400, "invalid_scope"),
    ],
)
def test_token_errors_use_the_oauth2_envelope(
    emu: Emu, change: dict[str, str | None], status: int, error: str
) -> None:
    form = {k: v for k, v in {**emu.token_form(), **change}.items() if v is not None}

    response = emu.http.post("/ims/token/v3", data=form)

    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert emu.http.get("/_emulator/stats").json()["tokensIssued"] == 0


def test_token_expires_after_the_configured_ttl(emu: Emu) -> None:
    emu.config(tokenTtlS=1)
    token = emu.http.post("/ims/token/v3", data=emu.token_form()).json()
    headers = {
        "authorization": f"Bearer {token['access_token']}",
        "x-api-key": emu.settings.emulator_client_id,
    }
    assert token["expires_in"] == 1
    assert emu.http.get("/v3/custom-models", headers=headers).status_code == 200

    time.sleep(1.05)

    response = emu.http.get("/v3/custom-models", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"reason": "Unauthorized", "message": "Authorization Token is not accepted."}


def test_revocation_invalidates_every_issued_token(emu: Emu) -> None:
    headers = emu.headers()
    job = emu.submit()

    emu.http.post("/_emulator/tokens/revoke").raise_for_status()

    response = emu.http.get(job["statusUrl"], headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error_code": "401013", "message": "Oauth token is not valid"}
    fresh = {**headers, "authorization": f"Bearer {emu.token()}"}
    assert emu.http.get(job["statusUrl"], headers=fresh).status_code == 200
