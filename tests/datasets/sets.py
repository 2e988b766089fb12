"""Training sets made by the tests: a good subject set of routers on plain backgrounds, and ways to break it.

Each picture is a distinct scene: a plain background of its own colour, a large "router" body in the
middle (a rounded box with antennas and lights, of varied colour, proportion and tilt) and a pattern of
stripes on it, so that no two are alike to a perceptual hash.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

SIDE = 1024
CAPTIONS = [
    "a white router on a wooden desk beside a window in soft morning light",
    "a black router standing on a glass shelf in a bright modern office",
    "a silver router with four antennas on a kitchen counter at night",
    "a small router on a bookshelf between paperback novels and a plant",
    "a router mounted on a brick wall in a dim server closet",
    "a blue router lying on a sofa cushion in a cozy living room",
    "a router on a rooftop at sunset with a city skyline behind it",
    "a router held in a hand over a cluttered workbench with tools",
    "a gaming router with red lights on a desk beside a keyboard",
    "a router on a bedside table next to a lamp and an alarm clock",
    "a white router on a beach towel with sand and sea in the background",
    "a router sitting on a stack of cardboard boxes in a warehouse",
]
STYLE_CAPTIONS = [
    "a lighthouse on a rocky coast under a stormy sky",
    "two children flying a kite in a green meadow",
    "a bowl of lemons on a checkered tablecloth",
    "a cyclist riding through a narrow old town street",
    "a cat sleeping on a windowsill in the afternoon",
    "a row of sailboats moored in a quiet harbour",
    "a steaming cup of coffee beside an open newspaper",
    "a fox crossing a snowy forest clearing at dawn",
    "a vintage car parked outside a roadside diner",
    "a woman reading under a large oak tree",
    "a mountain village with red roofs in the evening",
    "a market stall piled high with fresh vegetables",
]


def router_image(
    seed: int,
    *,
    size: tuple[int, int] = (SIDE, SIDE),
    scale: float = 0.7,
    centre: tuple[float, float] = (0.5, 0.5),
) -> Image.Image:
    rng = random.Random(seed)
    width, height = size
    background = tuple(rng.randrange(200, 256) for _ in range(3))
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    body_w = int(width * scale * rng.uniform(0.85, 1.0))
    body_h = int(height * scale * rng.uniform(0.55, 0.95))
    cx, cy = int(width * centre[0]), int(height * centre[1])
    box = (cx - body_w // 2, cy - body_h // 2, cx + body_w // 2, cy + body_h // 2)
    body = tuple(rng.randrange(0, 140) for _ in range(3))
    draw.rounded_rectangle(box, radius=max(4, body_w // 12), fill=body)
    # Panels of random shades across the body: they make each picture's perceptual hash its own.
    cols, rows = 6, 4
    for col in range(cols):
        for row in range(rows):
            shade = rng.randrange(0, 256)
            x0 = box[0] + col * body_w // cols
            y0 = box[1] + row * body_h // rows
            inset = max(2, body_w // 60)
            panel = (x0 + inset, y0 + inset, x0 + body_w // cols - inset, y0 + body_h // rows - inset)
            draw.rectangle(panel, fill=(shade, (shade * 7 + 40) % 256, 255 - shade))
    for _ in range(rng.randrange(2, 5)):  # antennas and lights
        x = rng.randrange(box[0] + body_w // 10, box[2] - body_w // 10)
        draw.rectangle((x - 6, box[1] - rng.randrange(20, 80), x + 6, box[1]), fill=body)
        ly = rng.randrange(box[1] + 10, box[3] - 10)
        draw.ellipse((x - 12, ly - 12, x + 12, ly + 12), fill=(rng.randrange(150, 256), 40, 40))
    return image


def write_set(
    directory: Path, count: int = 12, *, captions: list[str] | None = None, fmt: str = "JPEG"
) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    texts = captions if captions is not None else CAPTIONS
    for i in range(count):
        suffix = ".jpg" if fmt == "JPEG" else ".png"
        path = directory / f"router-{i:02d}{suffix}"
        router_image(1000 + i).save(path, format=fmt, quality=90)
        if texts:
            path.with_suffix(".txt").write_text(texts[i % len(texts)] + "\n")
        paths.append(path)
    return paths
