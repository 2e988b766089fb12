from __future__ import annotations

import base64
import json
import time

import pytest

from tests.emulator.conftest import Emu

# Adobe's own Postman collection ("Adobe IO - OAuth"): spaces after some of the commas.
POSTMAN_SCOPE = (
    "openid,session,AdobeID,read_organizations,additional_info.projectedProductContext, ff_apis, firefly_api"
)


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


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
        "x-api-key": emu.settings.client_id,
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


@pytest.mark.parametrize("path", ["/ims/token/v2", "/ims/token/v3"])
@pytest.mark.parametrize("where", ["query", "form"])
def test_both_token_paths_take_the_parameters_in_the_query_or_the_form(
    emu: Emu, path: str, where: str
) -> None:
    form = {**emu.token_form(), "scope": POSTMAN_SCOPE}
    response = emu.http.post(path, params=form) if where == "query" else emu.http.post(path, data=form)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("bearer", 86399)
    assert _claims(body["access_token"])["scope"] == POSTMAN_SCOPE.replace(" ", "")
    headers = {"authorization": f"Bearer {body['access_token']}", "x-api-key": emu.settings.client_id}
    assert emu.http.get("/v3/custom-models", headers=headers).status_code == 200
    (logged,) = [i for i in emu.http.get("/_emulator/requests").json()["items"] if i["endpoint"] == "token"]
    assert (logged["path"], logged["status"]) == (path, 200)


def test_v2_exactly_as_adobes_postman_collection_sends_it(emu: Emu) -> None:
    """No body, no content type: the whole request is in a query string with literal spaces in it."""
    query = (
        f"grant_type=client_credentials&client_id={emu.settings.client_id}"
        f"&client_secret={emu.settings.client_secret.get_secret_value()}&scope={POSTMAN_SCOPE}"
    ).replace(" ", "%20")

    response = emu.http.post(f"/ims/token/v2?{query}")

    assert response.status_code == 200, response.text
    assert "ff_apis" in str(_claims(response.json()["access_token"])["scope"]).split(",")


@pytest.mark.parametrize("path", ["/ims/token/v2", "/ims/token/v3"])
def test_a_wrong_secret_is_refused_on_both_paths(emu: Emu, path: str) -> None:
    response = emu.http.post(path, params={**emu.token_form(), "client_secret": "wrong"})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
