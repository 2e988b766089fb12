"""Adobe IMS: the client-credentials token endpoint (firefly-api.md §1.1-1.3), as `/ims/token/v3` (Adobe's
docs and SDK) and `/ims/token/v2` (Adobe's own Postman collection: parameters in the query string, no body).

Either path takes the parameters in the query string, in an `application/x-www-form-urlencoded` body, or
both (the body wins), and answers the same `{access_token, token_type, expires_in}` (seconds): Adobe documents
only v3's answer, and its v2 client reads nothing but `access_token`. `scope` is a comma-separated list;
blanks around the commas (`openid, AdobeID, firefly_api`) are ignored.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from emulator.deps import EmulatorDep, guard
from emulator.errors import oauth_error
from emulator.state import Emulator

router = APIRouter(tags=["Adobe IMS"])

_REQUIRED = ("grant_type", "client_id", "client_secret", "scope")


@router.post("/ims/token/v2", dependencies=[Depends(guard("token"))])
@router.post("/ims/token/v3", dependencies=[Depends(guard("token"))])
async def issue_token(request: Request, emulator: EmulatorDep) -> JSONResponse:
    """Issue an access token for `grant_type=client_credentials`; parameters in the form body or query."""
    params = dict(request.query_params)
    body = await request.body()
    content_type = request.headers.get("content-type", "application/x-www-form-urlencoded")
    if body and content_type.startswith("application/x-www-form-urlencoded"):
        # parse_qsl also copes with the official SDK's body, which it does not URL-encode.
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return token_response(emulator, params, time.time())


def token_response(emulator: Emulator, params: Mapping[str, str], now: float) -> JSONResponse:
    missing = [name for name in _REQUIRED if name not in params]
    if missing:
        return oauth_error(400, "invalid_request", f"missing required parameter: {missing[0]}")
    if params["grant_type"] != "client_credentials":
        return oauth_error(400, "unsupported_grant_type", f"unsupported grant_type: {params['grant_type']}")
    settings = emulator.settings
    secret = settings.client_secret.get_secret_value()
    id_ok = hmac.compare_digest(params["client_id"].encode(), settings.client_id.encode())
    secret_ok = hmac.compare_digest(params["client_secret"].encode(), secret.encode())
    if not (id_ok and secret_ok):
        return oauth_error(401, "invalid_client", "invalid client_id or client_secret")
    scopes = [scope.strip() for scope in params["scope"].split(",") if scope.strip()]
    if not scopes:
        return oauth_error(400, "invalid_scope", "scope must name at least one scope")
    ttl = emulator.config.tokenTtlS
    token = emulator.tokens.issue(params["client_id"], ",".join(scopes), ttl, now)
    emulator.tokens_issued += 1
    return JSONResponse(
        {"access_token": token, "token_type": "bearer", "expires_in": ttl},
        headers={"cache-control": "no-store"},
    )
