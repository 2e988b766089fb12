"""The rules about outputs (ffgate/generations/outputs.py): expiry of Firefly's URLs, what the record keeps,
and which requests are the same for reuse."""

from __future__ import annotations

import calendar
import time

from ffgate.generations.outputs import (
    UPSTREAM_URL_TTL_S,
    epoch,
    from_firefly,
    pins_every_seed,
    reuse_fingerprint,
    upstream_expiry,
    upstream_valid,
)

SIGV4 = (
    "https://pre-signed-firefly-prod.s3-accelerate.amazonaws.com/images/abc.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AK%2F20261201%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261201T100000Z"
    "&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=00ff"
)


def test_the_expiry_is_read_from_a_presigned_url() -> None:
    signed = calendar.timegm((2026, 12, 1, 10, 0, 0))
    assert upstream_expiry(SIGV4, seen_at=0) == signed + 3600
    assert upstream_expiry("https://s3.example/x.png?Expires=1800000000&Signature=x", seen_at=0) == 1800000000


def test_without_one_it_is_firefly_documented_hour_from_when_it_was_seen() -> None:
    assert upstream_expiry("https://cdn.example/x.jpg", seen_at=1000.0) == 1000.0 + UPSTREAM_URL_TTL_S
    assert upstream_expiry("https://cdn.example/x.jpg?X-Amz-Date=nonsense&X-Amz-Expires=1", 5.0) == 5.0 + 3600


def test_a_succeeded_result_becomes_outputs_not_stored_yet() -> None:
    now = time.time()
    result = {
        "size": {"width": 2048, "height": 2048},
        "outputs": [{"seed": 7, "image": {"url": "https://cdn.example/a.png"}}],
    }
    [output] = from_firefly(result, now)
    image = output["image"]
    assert output["seed"] == 7
    assert (image["upstreamUrl"], image["stored"], image["contentType"]) == (
        "https://cdn.example/a.png",
        False,
        "image/png",
    )
    assert (image["width"], image["height"]) == (2048, 2048)
    assert abs(epoch(image["upstreamExpiresAt"]) - (now + 3600)) < 0.01
    assert upstream_valid(image) and not upstream_valid(image, now=now + 3601)


def test_only_a_request_with_a_seed_for_every_image_is_reusable() -> None:
    assert pins_every_seed({"seeds": [1, 2]})
    assert pins_every_seed({"seeds": [1, 2], "numVariations": 2})
    assert not pins_every_seed({"numVariations": 2})
    assert not pins_every_seed({"seeds": []})
    assert not pins_every_seed({"prompt": "x"})


def test_the_reuse_fingerprint_is_every_firefly_field_and_the_model_version() -> None:
    base = {
        "prompt": "a router",
        "customModelId": "m",
        "seeds": [1, 2],
        "size": {"width": 1024, "height": 1024},
    }
    same = reuse_fingerprint(base, "image3_custom")
    assert reuse_fingerprint(dict(reversed(base.items())), "image3_custom") == same  # order does not matter
    assert reuse_fingerprint(base | {"numVariations": 2}, "image3_custom") == same  # implied by the seeds
    assert reuse_fingerprint(base, "image4_custom") != same
    changes: list[dict[str, object]] = [
        {"prompt": "a router "},
        {"seeds": [2, 1]},
        {"size": {"width": 2048, "height": 2048}},
        {"contentClass": "art"},
        {"negativePrompt": "x"},
        {"style": {"strength": 50}},
    ]
    for change in changes:
        assert reuse_fingerprint(base | change, "image3_custom") != same, change
