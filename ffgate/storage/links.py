"""Signed links to one output: a URL that works without an API key until it expires.

    /v1/generations/{id}/outputs/{index}?expires=<unix s>&client=<client id>&signature=<HMAC>

The signature is HMAC-SHA256 (base64url) over the generation, the index, the expiry and the client that
made the link, with `FFGATE_LINK_SECRET` (or a secret derived from `FFGATE_ADMIN_KEY`), so no part can be
changed without the secret. A link stops working when it expires, when the client that made it (or the
generation's owner) is revoked, and when the generation is deleted; a refusal says which.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from ffgate.config import Settings
from ffgate.errors import Forbidden, ServiceUnavailable


class LinkRefused(Forbidden):
    """403: a signed link that is tampered with, expired or revoked (`why` says which)."""

    slug, title = "link-refused", "Signed link refused"

    def __init__(self, detail: str, *, why: str) -> None:
        super().__init__(detail)
        self.why = why


@dataclass(frozen=True)
class Link:
    url: str
    expires_at: int  # Unix seconds


@dataclass(frozen=True)
class SignedParams:
    """The query parameters of a signed link, as received."""

    expires: str
    client: str
    signature: str


def link_secret(settings: Settings) -> bytes:
    if settings.link_secret is not None:
        return settings.link_secret.get_secret_value().encode()
    if settings.admin_key is None:
        raise ServiceUnavailable("Signed links need FFGATE_LINK_SECRET (or FFGATE_ADMIN_KEY) to be set.")
    # Derived, like the key pepper: stable without one more setting, different from the key itself.
    return hmac.new(settings.admin_key.get_secret_value().encode(), b"ffgate link secret", "sha256").digest()


def _signature(secret: bytes, gen_id: str, index: int, expires: int, client: str) -> str:
    message = f"{gen_id}\n{index}\n{expires}\n{client}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(settings: Settings, path: str, gen_id: str, index: int, client: str, expires_in_s: int) -> Link:
    """A link to `path` (the output's URL) for `expires_in_s` seconds from now."""
    expires = int(time.time()) + expires_in_s
    signature = _signature(link_secret(settings), gen_id, index, expires, client)
    query = urlencode({"expires": expires, "client": client, "signature": signature})
    return Link(f"{path}?{query}", expires)


def verify(settings: Settings, params: SignedParams, gen_id: str, index: int) -> str:
    """The client that made the link, if the signature holds and it has not expired; LinkRefused otherwise.
    (Whether that client is still active is the caller's check: it needs Redis.)"""
    try:
        expires = int(params.expires)
    except ValueError:
        raise LinkRefused("The link's expiry is not a number.", why="tampered") from None
    expected = _signature(link_secret(settings), gen_id, index, expires, params.client)
    if not hmac.compare_digest(expected.encode(), params.signature.encode()):
        raise LinkRefused("The link's signature does not match: it was changed.", why="tampered")
    if time.time() >= expires:
        raise LinkRefused(f"The link expired at {expires} (Unix time).", why="expired")
    return params.client


def revoked(client: str) -> LinkRefused:
    return LinkRefused(f"The link was made by or for client '{client}', which is revoked.", why="revoked")
