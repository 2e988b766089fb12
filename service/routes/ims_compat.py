"""Adobe IMS's token call, on the gateway (the Firefly-compatible surface): code written for Firefly gets its
token here with an ffgate client's id as `client_id` and its API key as `client_secret`."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ffgate.errors import BadRequest
from service.deps import RuntimeDep

router = APIRouter(tags=["firefly-compatible"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth token type)
    expires_in: int


_FORM = {
    "requestBody": {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        name: {"type": "string"}
                        for name in ("grant_type", "client_id", "client_secret", "scope")
                    },
                }
            }
        },
    },
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in ("grant_type", "client_id", "client_secret", "scope")
    ],
}
_OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": 'OAuth 2.0 error: `{"error": "invalid_request", "error_description"}`'},
    401: {"description": 'OAuth 2.0 error: `{"error": "invalid_client", "error_description"}`'},
    429: {"description": "OAuth 2.0 error: `too_many_requests`, with Retry-After"},
}


async def _token(request: Request, runtime: RuntimeDep) -> TokenResponse:
    # IMS takes the parameters in the query string or a form body (Adobe's own Postman collection sends
    # them in the query string, with no body); the body wins where both give one.
    params = dict(request.query_params)
    params |= dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    if params.get("grant_type") != "client_credentials":
        raise BadRequest("grant_type must be client_credentials.")
    missing = [name for name in ("client_id", "client_secret") if not params.get(name)]
    if missing:
        raise BadRequest(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required.")
    issued = await runtime.access_tokens.issue(params["client_id"], params["client_secret"])
    return TokenResponse(access_token=issued.token.get_secret_value(), expires_in=issued.expires_in)


@router.post("/ims/token/v3", operation_id="imsTokenV3", responses=_OAUTH_ERRORS, openapi_extra=_FORM)
async def ims_token_v3(request: Request, runtime: RuntimeDep) -> TokenResponse:
    """A bearer token for the Firefly-compatible `/v3` routes (client_credentials; `client_id` = an ffgate
    client id, `client_secret` = its API key; in the query string or a form body; `scope` is ignored). It
    lasts FFGATE_ACCESS_TOKEN_TTL_S and stops working at once when the client is revoked or its key rotated.
    """
    return await _token(request, runtime)


@router.post("/ims/token/v2", operation_id="imsTokenV2", responses=_OAUTH_ERRORS, openapi_extra=_FORM)
async def ims_token_v2(request: Request, runtime: RuntimeDep) -> TokenResponse:
    """The same as `/ims/token/v3` (Adobe's own Postman collection calls v2)."""
    return await _token(request, runtime)
