"""Signed output links (ffgate/storage/links.py): what a link grants, and every way it is refused."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

import pytest

from ffgate.errors import ServiceUnavailable
from ffgate.storage.links import LinkRefused, SignedParams, sign, verify
from tests.redis_db import make_settings

SETTINGS = make_settings(link_secret="a-link-secret-of-16+chars")


def params_of(url: str) -> SignedParams:
    query = {k: v[0] for k, v in parse_qs(url.partition("?")[2]).items()}
    return SignedParams(query["expires"], query["client"], query["signature"])


def test_a_link_verifies_for_its_output_until_it_expires() -> None:
    link = sign(SETTINGS, "/v1/generations/gen_1/outputs/0", "gen_1", 0, "cli_a", 60)
    assert link.url.startswith("/v1/generations/gen_1/outputs/0?expires=")
    assert abs(link.expires_at - (time.time() + 60)) < 2
    assert verify(SETTINGS, params_of(link.url), "gen_1", 0) == "cli_a"


@pytest.mark.parametrize(
    ("gen_id", "index", "change"),
    [
        ("gen_2", 0, {}),  # another generation
        ("gen_1", 1, {}),  # another output
        ("gen_1", 0, {"client": "cli_b"}),  # another client
        ("gen_1", 0, {"expires": "9999999999"}),  # a later expiry
        ("gen_1", 0, {"signature": "x" * 43}),
        ("gen_1", 0, {"expires": "soon"}),
    ],
)
def test_any_change_is_refused_as_tampered(gen_id: str, index: int, change: dict[str, str]) -> None:
    link = sign(SETTINGS, "/p", "gen_1", 0, "cli_a", 60)
    given = params_of(link.url)
    params = SignedParams(
        **({"expires": given.expires, "client": given.client, "signature": given.signature} | change)
    )
    with pytest.raises(LinkRefused) as refused:
        verify(SETTINGS, params, gen_id, index)
    assert refused.value.why == "tampered" and refused.value.status == 403


def test_an_expired_link_is_refused_as_expired() -> None:
    link = sign(SETTINGS, "/p", "gen_1", 0, "cli_a", 1)
    time.sleep(1.1)
    with pytest.raises(LinkRefused) as refused:
        verify(SETTINGS, params_of(link.url), "gen_1", 0)
    assert refused.value.why == "expired"


def test_the_secret_is_derived_from_the_admin_key_when_unset() -> None:
    one, other = make_settings(admin_key="ffk_admin_one"), make_settings(admin_key="ffk_admin_two")
    link = sign(one, "/p", "gen_1", 0, "admin", 60)
    assert verify(make_settings(admin_key="ffk_admin_one"), params_of(link.url), "gen_1", 0) == "admin"
    with pytest.raises(LinkRefused):
        verify(other, params_of(link.url), "gen_1", 0)
    with pytest.raises(ServiceUnavailable):
        sign(make_settings(admin_key=None), "/p", "gen_1", 0, "admin", 60)


def test_a_short_link_secret_stops_the_process_naming_it() -> None:
    with pytest.raises(ValueError, match="link_secret"):
        make_settings(link_secret="short")
