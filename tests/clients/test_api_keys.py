"""API keys and their keyed hashes, and what a client's rate limit state says in headers."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import SecretStr, ValidationError

from ffgate.clients.api_keys import key_digest, new_api_key, new_webhook_secret, pepper_from
from ffgate.config import Settings


def test_the_pepper_is_the_setting_else_derived_from_the_admin_key() -> None:
    assert pepper_from(Settings(admin_key=None, key_pepper=None)) is None
    explicit = pepper_from(Settings(admin_key=SecretStr("ffk_admin"), key_pepper=SecretStr("p" * 32)))
    assert explicit == b"p" * 32
    derived = pepper_from(Settings(admin_key=SecretStr("ffk_admin"), key_pepper=None))
    assert derived is not None and len(derived) == 32
    assert b"ffk_admin" not in derived
    assert derived != pepper_from(Settings(admin_key=SecretStr("ffk_other"), key_pepper=None))


def test_keys_are_random_and_stored_only_as_a_keyed_hash() -> None:
    keys = {new_api_key() for _ in range(100)}
    assert len(keys) == 100 and all(k.startswith("ffk_") and len(k) >= 46 for k in keys)
    key = next(iter(keys))
    digest = key_digest(b"pepper", key)
    assert digest == hmac.new(b"pepper", key.encode(), hashlib.sha256).hexdigest()
    assert digest != key_digest(b"other pepper", key)  # a stolen hash is useless without the pepper
    assert key not in digest


def test_webhook_secrets_use_the_standard_webhooks_format() -> None:
    import base64

    secret = new_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24


def test_a_pepper_must_be_long_and_an_empty_one_is_no_pepper() -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(key_pepper=SecretStr("short"))
    assert Settings(key_pepper="", admin_key="").key_pepper is None
    assert pepper_from(Settings(key_pepper="", admin_key="")) is None
