"""Output images: S3-style presigned URLs and the pictures behind them.

Pictures are drawn from a hash of seed and prompt, so the same job output always has the same bytes, and
different prompts or seeds look visibly different when a human opens them.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import hmac
import io
import random
import secrets
import textwrap
import time
import zlib
from collections.abc import Mapping
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont

ALGORITHM = "AWS4-HMAC-SHA256"
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
MEDIA_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}
EXTENSIONS = {"jpeg": "jpg", "png": "png"}


class UrlSigner:
    """Signs with a key that lives and dies with the process, so URLs from a previous run never verify."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def _signature(self, path: str, amz_date: str, expires: str) -> str:
        return hmac.new(self._key, f"{path}\n{amz_date}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def mint(self, base: str, path: str, ttl_s: int, now: float) -> str:
        amz_date = time.strftime(_AMZ_DATE, time.gmtime(now))
        signature = self._signature(path, amz_date, str(ttl_s))
        return (
            f"{base}{path}?X-Amz-Algorithm={ALGORITHM}&X-Amz-Date={amz_date}"
            f"&X-Amz-Expires={ttl_s}&X-Amz-Signature={signature}"
        )

    def check(self, path: str, params: Mapping[str, str], now: float) -> tuple[str, str] | None:
        """None when the URL is valid now, else the S3 (Code, Message) to refuse it with."""
        amz_date = params.get("X-Amz-Date")
        expires = params.get("X-Amz-Expires")
        signature = params.get("X-Amz-Signature")
        if params.get("X-Amz-Algorithm") != ALGORITHM or not (amz_date and expires and signature):
            return (
                "AccessDenied",
                "Query-string authentication requires the X-Amz-Algorithm, X-Amz-Date, "
                "X-Amz-Expires and X-Amz-Signature parameters",
            )
        if not hmac.compare_digest(self._signature(path, amz_date, expires), signature):
            return (
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        # The signature held, so date and expiry are ones this process wrote.
        signed_at = calendar.timegm(time.strptime(amz_date, _AMZ_DATE))
        if now > signed_at + int(expires):
            return "AccessDenied", "Request has expired"
        return None


def s3_error_xml(code: str, message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    )


def capped_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


@functools.lru_cache(maxsize=64)
def render(
    seed: int, prompt: str, width: int, height: int, image_format: str, pad: tuple[int, int] = (0, 0)
) -> bytes:
    """Encoded image bytes, padded to a size within `pad` (min, max bytes) when given; CPU-bound, so call it
    from a worker thread."""
    digest = hashlib.sha256(f"{seed}\x00{prompt}".encode()).digest()
    rng = random.Random(digest)
    mask = Image.linear_gradient("L")
    for _ in range(rng.randrange(4)):
        mask = mask.transpose(Image.Transpose.ROTATE_90)
    mask = mask.resize((width, height))
    image = Image.composite(
        Image.new("RGB", (width, height), (digest[0], digest[1], digest[2])),
        Image.new("RGB", (width, height), (digest[3], digest[4], digest[5])),
        mask,
    )
    draw = ImageDraw.Draw(image, "RGBA")
    for _ in range(6):
        x, y = rng.randrange(width), rng.randrange(height)
        radius = rng.randrange(max(2, min(width, height) // 3)) + 1
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256), 140)
        box = (x - radius, y - radius, x + radius, y + radius)
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    _draw_caption(draw, prompt, f"seed {seed}", width, height)
    out = io.BytesIO()
    if image_format == "png":
        image.save(out, format="PNG")
    else:
        image.save(out, format="JPEG", quality=85)
    low, high = pad
    if not low and not high:
        return out.getvalue()
    target = rng.randint(low, max(low, high))
    return _padded(out.getvalue(), image_format, target, rng)


_JPEG_SEGMENT = 65533  # a COM segment's payload at most (its length field counts itself)


def _padded(data: bytes, image_format: str, target: int, rng: random.Random) -> bytes:
    """`data` grown to about `target` bytes with filler decoders skip (and Pillow reads past). The filler
    repeats a short random pattern, built with a few large copies rather than byte by byte."""
    missing = target - len(data)
    if missing <= 0:
        return data
    pattern = rng.randbytes(64)
    if image_format == "png":
        filler = (pattern * (missing // 64 + 1))[:missing]
        chunk = b"ffPd" + filler  # ancillary, private, safe to copy: ignored by every decoder
        crc = zlib.crc32(chunk).to_bytes(4, "big")
        end = data.rindex(b"IEND") - 4
        return b"".join((data[:end], len(filler).to_bytes(4, "big"), chunk, crc, data[end:]))
    full, rest = divmod(missing, _JPEG_SEGMENT + 4)
    segment = b"\xff\xfe" + (_JPEG_SEGMENT + 2).to_bytes(2, "big") + (pattern * 1024)[:_JPEG_SEGMENT]
    last = b"\xff\xfe" + (rest + 2).to_bytes(2, "big") + (pattern * 1024)[:rest] if rest else b""
    return b"".join((data[:2], segment * full, last, data[2:]))  # right after SOI


def _draw_caption(draw: ImageDraw.ImageDraw, prompt: str, footer: str, width: int, height: int) -> None:
    size = max(10, min(width, height) // 18)
    font = ImageFont.load_default(size=size)
    # The caption may cover the lower half at most; a long prompt is cut, the footer always shows.
    room = max(1, (height // 2) // (size + 4) - 1)
    lines = [*textwrap.wrap(prompt, max(8, int(width / (size * 0.55))))[:room], footer]
    top = height - len(lines) * (size + 4) - size // 2
    draw.rectangle((0, top - size // 4, width, height), fill=(0, 0, 0, 110))
    for index, line in enumerate(lines):
        draw.text((size // 2, top + index * (size + 4)), line, font=font, fill=(255, 255, 255, 255))
