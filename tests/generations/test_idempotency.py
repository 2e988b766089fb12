"""The body fingerprint behind `Idempotency-Key`: the same request, however it is spelled, and no other."""

from __future__ import annotations

from typing import Any

import pytest

from ffgate.generations.idempotency import IdempotencyKey, different_body, fingerprint
from ffgate.redis.keys import Keys
from service.schemas import GenerationRequest

MODEL = "urn:aaid:sc:VA6C2:dbbb0065-edbf-466e-9e9b-617bcad30f1d"


def body(raw: str) -> dict[str, Any]:
    """The request as the gateway fingerprints it: parsed, with the fields the client set."""
    return GenerationRequest.model_validate_json(raw).as_given()


def test_key_order_and_spacing_do_not_change_the_fingerprint() -> None:
    one = body(
        f'{{"prompt": "a router", "customModelId": "{MODEL}", "size": {{"width": 1024, "height": 1024}}}}'
    )
    two = body(f'{{"size":{{"height":1024,"width":1024}},"customModelId":"{MODEL}","prompt":"a router"}}')
    assert fingerprint(one) == fingerprint(two)


@pytest.mark.parametrize(
    "other",
    [
        '{"prompt": "a router!", "customModelId": "%s"}',
        '{"prompt": "a router", "customModelId": "%s", "numVariations": 1}',
        '{"prompt": "a router", "customModelId": "%s", "metadata": {"order": 1}}',
    ],
)
def test_any_other_body_has_another_fingerprint(other: str) -> None:
    base = body(f'{{"prompt": "a router", "customModelId": "{MODEL}"}}')
    assert fingerprint(base) != fingerprint(body(other % MODEL))


def test_keys_are_per_client_and_a_reuse_with_another_body_names_the_header() -> None:
    request = body(f'{{"prompt": "a router", "customModelId": "{MODEL}"}}')
    key = IdempotencyKey.of("order-1", request)
    assert key.fingerprint == fingerprint(request)
    keys = Keys("t:")
    assert keys.idempotency("cli_a", "order-1") != keys.idempotency("cli_b", "order-1")
    assert "order-1" not in keys.idempotency("cli_a", "order-1")  # hashed: any 255 characters make a key
    refused = different_body("order-1")
    assert refused.status == 422 and "order-1" in refused.detail
    assert refused.errors == [{"loc": ["header", "Idempotency-Key"], "msg": refused.detail}]
