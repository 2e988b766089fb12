"""What a copy records of an output's bytes: its real pixel size, read from the header alone."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from emulator.images import render
from worker.mirror import _pixel_size


def encoded(size: tuple[int, int], image_format: str, **options: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(out, format=image_format, **options)
    return out.getvalue()


@pytest.mark.parametrize("image_format", ["jpeg", "png"])
def test_a_padded_output_is_measured_as_pillow_measures_it(image_format: str) -> None:
    # As the emulator serves them in bench/mirror.py: megabytes of segments before the JPEG frame header.
    data = render(7, "a router", 640, 480, image_format, (2_000_000, 2_000_000))
    assert len(data) >= 2_000_000
    assert _pixel_size(data) == (640, 480) == Image.open(io.BytesIO(data)).size


@pytest.mark.parametrize(
    ("image_format", "options"),
    [("JPEG", {"progressive": True}), ("JPEG", {"exif": Image.Exif().tobytes()}), ("PNG", {}), ("WEBP", {})],
)
def test_other_encodings_are_measured_too(image_format: str, options: dict[str, object]) -> None:
    data = encoded((300, 170), image_format, **options)
    assert _pixel_size(data) == (300, 170)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", b"\xff\xd8\xff\xe0\x00", b"\xff\xd8\xff\xda\x00\x08", b"\x89PNG\r\n\x1a\n\x00"],
)
def test_what_is_no_image_has_no_size(data: bytes) -> None:
    assert _pixel_size(data) == (None, None)


def test_outputs_are_read_in_large_pieces() -> None:
    """The copy lane's download reads up to 1 MiB at a time (worker.mirror sets httpcore's constant): this
    fails if an httpcore release renames it, and the copies would quietly cost more CPU again."""
    from httpcore._async.http11 import AsyncHTTP11Connection

    from worker import mirror

    assert AsyncHTTP11Connection.READ_NUM_BYTES == mirror.READ_BYTES == 1024 * 1024
