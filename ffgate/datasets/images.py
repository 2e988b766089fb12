"""Looking at one training image with Pillow: what it is, a perceptual hash, and (on plain backgrounds)
where the subject is.

The perceptual hash is dHash (Krawetz's "difference hash"), written here with Pillow rather than taken
from the `imagehash` package, which would bring numpy, scipy and PyWavelets for 15 lines: the image is
reduced to 9x8 grey pixels and each bit says whether a pixel is brighter than its right-hand neighbour.
Re-encoding, resizing and small edits change few of the 64 bits; different pictures differ in about half.

The subject heuristic is honest only where it can be: on a plain background. If at least 90% of the
image's border is within a small colour distance of its median colour, that colour is taken as the
background, every pixel clearly different from it as the subject, and the subject's bounding box (after
removing specks) gives its share of the image and how far its centre is from the image's centre. On any
other image (a scene, a gradient, a photo with a busy border) nothing is said: telling a subject from a
background there needs a segmentation model, which this cheap check does not pretend to be.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageFilter, UnidentifiedImageError

HASH_SIZE = 8
THUMB = 128  # the framing heuristic looks at the image at most this big
BACKGROUND_TOLERANCE = 32  # per-channel difference still counted as background
PLAIN_BORDER_SHARE = 0.9


@dataclass(frozen=True)
class Inspection:
    format: str | None
    width: int | None
    height: int | None
    dhash: int | None
    framing: Framing | None
    problem: str | None  # why the file could not be read, if it could not


@dataclass(frozen=True)
class Framing:
    """The subject's bounding box on a plain background: its share of the image, its centre (0..1)."""

    area: float
    centre_x: float
    centre_y: float


def inspect(path: Path) -> Inspection:
    """Decode the whole image (a truncated file fails here, as it would on upload) and look at it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image_format = image.format
                image.load()
                width, height = image.size
                rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        return Inspection(None, None, None, None, None, f"{type(exc).__name__}: {exc}")
    except Image.DecompressionBombWarning as exc:
        return Inspection(None, None, None, None, None, f"too many pixels to open safely ({exc})")
    return Inspection(image_format, width, height, dhash(rgb), framing(rgb), None)


def dhash(image: Image.Image) -> int:
    grey = image.convert("L").resize((HASH_SIZE + 1, HASH_SIZE), Image.Resampling.LANCZOS)
    pixels = grey.tobytes()  # one byte a pixel in mode L
    bits = 0
    for row in range(HASH_SIZE):
        for col in range(HASH_SIZE):
            left = pixels[row * (HASH_SIZE + 1) + col]
            right = pixels[row * (HASH_SIZE + 1) + col + 1]
            bits = (bits << 1) | (left > right)
    return bits


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def framing(image: Image.Image) -> Framing | None:
    """Where the subject is, if the background is plain; None when this heuristic cannot tell."""
    small = image.copy()
    small.thumbnail((THUMB, THUMB))
    width, height = small.size
    if width < 8 or height < 8:
        return None
    border = _border_pixels(small)
    background = tuple(sorted(channel)[len(channel) // 2] for channel in zip(*border, strict=True))
    near = sum(
        1
        for p in border
        if max(abs(a - b) for a, b in zip(p, background, strict=True)) <= BACKGROUND_TOLERANCE
    )
    if near < PLAIN_BORDER_SHARE * len(border):
        return None
    difference = ImageChops.difference(small, Image.new("RGB", small.size, background))
    red, green, blue = difference.split()
    strongest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    mask = strongest.point(lambda v: 255 if v > BACKGROUND_TOLERANCE else 0).filter(ImageFilter.MinFilter(3))
    box = mask.getbbox()
    if box is None:
        return None  # nothing but background: no subject to speak of
    left, top, right, bottom = box
    area = (right - left) * (bottom - top) / (width * height)
    return Framing(area, (left + right) / 2 / width, (top + bottom) / 2 / height)


def _border_pixels(image: Image.Image) -> list[tuple[int, int, int]]:
    width, height = image.size
    pixels = image.load()
    assert pixels is not None
    coords = {(x, y) for x in range(width) for y in (0, 1, height - 2, height - 1)}
    coords |= {(x, y) for y in range(height) for x in (0, 1, width - 2, width - 1)}
    found: list[tuple[int, int, int]] = []
    for x, y in coords:
        value = pixels[x, y]
        assert isinstance(value, tuple)
        found.append((int(value[0]), int(value[1]), int(value[2])))
    return found
