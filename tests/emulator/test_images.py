from __future__ import annotations

import calendar
import io
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image

from emulator import seed
from emulator.images import render
from tests.emulator.conftest import Emu, running_emulator


def _image_urls(emu: Emu, body: dict[str, Any]) -> list[str]:
    emu.config(jobLatencyS=0)
    result = emu.status(emu.submit(body))["result"]
    return [output["image"]["url"] for output in result["outputs"]]


def _result(emu: Emu, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    emu.config(jobLatencyS=0)
    result: dict[str, Any] = emu.status(emu.submit(body, **headers))["result"]
    return result


def _pixel_sizes(emu: Emu, result: dict[str, Any]) -> list[tuple[int, int]]:
    sizes = []
    for output in result["outputs"]:
        response = emu.http.get(output["image"]["url"])
        assert response.status_code == 200
        sizes.append(Image.open(io.BytesIO(response.content)).size)
    return sizes


def test_images_are_real_jpegs_capped_to_the_max_side_and_the_result_says_so(emu: Emu) -> None:
    result = _result(emu, {"prompt": "wide harbour", "size": {"width": 2688, "height": 1536}})
    (url,) = [output["image"]["url"] for output in result["outputs"]]

    response = emu.http.get(url)

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG"
    assert image.size == (256, 146)
    assert result["size"] == {"width": 256, "height": 146}
    record = emu.http.get(f"/_emulator/jobs/{emu.http.get('/_emulator/jobs').json()[0]['jobId']}").json()
    assert (record["size"], record["outputSize"]) == (
        {"width": 2688, "height": 1536},
        {"width": 256, "height": 146},
    )


@pytest.mark.parametrize(
    ("size", "version"),
    [((1792, 2304), "image4_custom"), ((1440, 2560), "image4_custom"), ((1344, 756), "image3_custom")],
)
def test_every_output_is_exactly_the_size_the_result_reports(
    emu: Emu, size: tuple[int, int], version: str
) -> None:
    body = {"prompt": "a kite", "customModelId": seed.STYLE_MODEL_ID, "numVariations": 2}
    result = _result(emu, {**body, "size": {"width": size[0], "height": size[1]}}, x_model_version=version)

    reported = (result["size"]["width"], result["size"]["height"])
    assert max(reported) == 256, "scaled to the tests' cap, aspect kept"
    assert _pixel_sizes(emu, result) == [reported, reported]


def test_without_a_cap_outputs_are_the_size_asked_for() -> None:
    """Firefly's default size, 2048x2048 (no `size` in the body), drawn and reported as such."""
    with running_emulator(image_max_side=4096, job_latency_s=0) as (url, settings):
        emu = Emu(url, settings, httpx.Client(base_url=url, timeout=10))
        with emu.http:
            result = emu.status(emu.submit({"prompt": "a lighthouse"}))
            assert result["result"]["size"] == {"width": 2048, "height": 2048}
            assert _pixel_sizes(emu, result["result"]) == [(2048, 2048)]


def test_same_seed_and_prompt_give_the_same_bytes(emu: Emu) -> None:
    body = {"prompt": "a red kite", "seeds": [5, 6]}
    first = [emu.http.get(url).content for url in _image_urls(emu, body)]
    again = [emu.http.get(url).content for url in _image_urls(emu, body)]
    other_prompt = [emu.http.get(url).content for url in _image_urls(emu, {**body, "prompt": "a blue kite"})]

    assert first == again
    assert first[0] != first[1]
    assert first[0] != other_prompt[0]


def test_expired_url_is_refused_with_s3_xml(emu: Emu) -> None:
    emu.config(urlTtlS=1)
    (url,) = _image_urls(emu, {"prompt": "x"})
    signed_at = calendar.timegm(
        time.strptime(parse_qs(urlsplit(url).query)["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
    )
    assert emu.http.get(url).status_code == 200

    time.sleep(max(0.0, signed_at + 1.05 - time.time()))
    response = emu.http.get(url)

    assert response.status_code == 403
    assert "<Code>AccessDenied</Code><Message>Request has expired</Message>" in response.text


def test_tampered_or_unsigned_urls_are_refused(emu: Emu) -> None:
    (url,) = _image_urls(emu, {"prompt": "x"})
    tampered = url.replace("X-Amz-Expires=3600", "X-Amz-Expires=99999")

    forged = emu.http.get(tampered)
    unsigned = emu.http.get(url.split("?")[0])

    assert forged.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in forged.text
    assert unsigned.status_code == 403
    assert "<Code>AccessDenied</Code>" in unsigned.text


def test_png_format_and_own_base_url_when_no_public_url_is_set() -> None:
    with running_emulator(image_format="png", public_url=None) as (url, settings):
        emu = Emu(url, settings, httpx.Client(base_url=url, timeout=10))
        with emu.http:
            job = emu.submit({"prompt": "x", "size": {"width": 896, "height": 1152}})
            assert job["statusUrl"].startswith(f"{url}/v3/status/")
            (image_url,) = _image_urls(emu, {"prompt": "x", "size": {"width": 896, "height": 1152}})
            assert image_url.startswith(f"{url}/images/") and ".png?" in image_url

            response = emu.http.get(image_url)

    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == ("PNG", (199, 256))


@pytest.mark.parametrize("image_format", ["jpeg", "png"])
def test_padded_outputs_are_still_the_same_image(image_format: str) -> None:
    """FFGATE_EMULATOR_IMAGE_MIN/MAX_BYTES: files of a realistic size that decode to the picture drawn."""
    plain = render(3, "a router", 320, 200, image_format)
    padded = render(3, "a router", 320, 200, image_format, (1_000_000, 3_000_000))
    assert 1_000_000 <= len(padded) <= 3_000_000
    assert padded == render(3, "a router", 320, 200, image_format, (1_000_000, 3_000_000))  # deterministic
    assert render(4, "a router", 320, 200, image_format, (1_000_000, 3_000_000)) != padded
    with Image.open(io.BytesIO(padded)) as picture, Image.open(io.BytesIO(plain)) as original:
        assert picture.size == (320, 200)
        assert picture.tobytes() == original.tobytes()
