from __future__ import annotations

import calendar
import io
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from PIL import Image

from tests.emulator.conftest import Emu, running_emulator


def _image_urls(emu: Emu, body: dict[str, Any]) -> list[str]:
    emu.config(jobLatencyS=0)
    result = emu.status(emu.submit(body))["result"]
    return [output["image"]["url"] for output in result["outputs"]]


def test_images_are_real_jpegs_capped_to_the_max_side(emu: Emu) -> None:
    (url,) = _image_urls(emu, {"prompt": "wide harbour", "size": {"width": 2688, "height": 1536}})

    response = emu.http.get(url)

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG"
    assert image.size == (256, 146)


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
    with running_emulator(emulator_image_format="png", emulator_public_url=None) as (url, settings):
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
