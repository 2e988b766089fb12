"""IMS access tokens: JWT-shaped strings (like Adobe's) that are only ever looked up, never verified."""

from __future__ import annotations

import base64
import json
import secrets
import uuid


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt_shaped(claims: dict[str, object]) -> str:
    header = {"alg": "RS256", "x5u": "ims_na1-key-at-1.cer", "kid": "ims_na1-key-at-1", "itt": "at"}
    parts = (json.dumps(header).encode(), json.dumps(claims).encode(), secrets.token_bytes(256))
    return ".".join(_b64(part) for part in parts)


class TokenStore:
    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}

    def issue(self, client_id: str, scope: str, ttl_s: int, now: float) -> str:
        if len(self._expiry) > 10_000:
            self._expiry = {t: exp for t, exp in self._expiry.items() if exp > now}
        token = _jwt_shaped(
            {
                "id": str(uuid.uuid4()),
                "type": "access_token",
                "client_id": client_id,
                "user_id": f"{client_id}@techacct.adobe.com",
                "as": "ims-na1",
                "created_at": str(int(now * 1000)),
                "expires_in": str(ttl_s * 1000),
                "scope": scope,
            }
        )
        self._expiry[token] = now + ttl_s
        return token

    def valid(self, token: str, now: float) -> bool:
        expires = self._expiry.get(token)
        return expires is not None and now < expires

    def revoke_all(self) -> None:
        self._expiry.clear()
