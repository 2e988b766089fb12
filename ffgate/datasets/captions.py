"""Captions of a training set: where they are kept, and what is wrong with them.

Firefly's web trainer writes captions itself ("Generate Captions & Tags") and lets you edit each one;
Adobe documents no file format to import them from. So the sidecar forms read here are the ones teams
keep captions in before pasting them: a text file beside each image (`router-01.txt` or
`router-01.jpg.txt`, also `.caption`), or one manifest for the folder, `captions.json`
(`{"router-01.jpg": "caption", ...}`) or `captions.csv` (rows of `file,caption`). A sidecar file wins
over the manifest.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

SIDECAR_SUFFIXES = (".txt", ".caption")
MANIFESTS = ("captions.json", "captions.csv")
_WORD = re.compile(r"[\w'-]+", re.UNICODE)


class ManifestError(ValueError):
    pass


def is_caption_file(path: Path) -> bool:
    return path.suffix.lower() in SIDECAR_SUFFIXES or path.name.lower() in MANIFESTS


def load_manifest(directory: Path) -> dict[str, str]:
    """Captions by image file name from captions.json / captions.csv (ManifestError if unreadable)."""
    captions: dict[str, str] = {}
    json_path, csv_path = directory / "captions.json", directory / "captions.csv"
    if json_path.is_file():
        try:
            data = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ManifestError(f"captions.json is not readable JSON ({exc})") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ManifestError('captions.json must be one object: {"image file name": "caption", ...}')
        captions.update({str(k): v for k, v in data.items()})
    if csv_path.is_file():
        try:
            with csv_path.open(newline="", encoding="utf-8") as handle:
                for row in csv.reader(handle):
                    if (
                        len(row) >= 2
                        and row[0].strip()
                        and row[0].strip().lower() not in ("file", "filename")
                    ):
                        captions.setdefault(row[0].strip(), row[1])
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ManifestError(f"captions.csv is not readable ({exc})") from exc
    return captions


def caption_for(image: Path, manifest: Mapping[str, str]) -> str | None:
    """The image's caption (stripped; an empty file counts as no caption), or None."""
    for suffix in SIDECAR_SUFFIXES:
        for sidecar in (image.with_suffix(suffix), image.with_name(image.name + suffix)):
            if sidecar.is_file():
                try:
                    text = sidecar.read_text(encoding="utf-8").strip()
                except (OSError, UnicodeDecodeError):
                    return None
                return text or None
    text = manifest.get(image.name, "").strip()
    return text or None


def words(caption: str) -> list[str]:
    return _WORD.findall(caption.casefold())


def names_concept(caption: str, concept: str) -> bool:
    """Whether the caption names the concept (as a word or phrase, any case, a plural 's' allowed)."""
    pattern = r"(?<![\w-])" + r"\s+".join(re.escape(w) for w in concept.split()) + r"(?:s|es)?(?![\w-])"
    return re.search(pattern, caption, re.IGNORECASE) is not None


def repeated_phrases(captions: Iterable[str], min_words: int, share: float) -> list[tuple[str, int]]:
    """Phrases of at least `min_words` words found in more than `share` of the captions, longest first,
    each with the number of captions holding it. A phrase inside a longer reported one (in as many
    captions) is not reported again."""
    texts = [words(c) for c in captions]
    if len(texts) < 2:
        return []
    threshold = share * len(texts)
    counts: Counter[tuple[str, ...]] = Counter()
    for tokens in texts:
        grams = {
            tuple(tokens[i : i + n])
            for n in range(min_words, len(tokens) + 1)
            for i in range(len(tokens) - n + 1)
        }
        counts.update(grams)
    frequent = {gram: count for gram, count in counts.items() if count > threshold}
    reported: list[tuple[tuple[str, ...], int]] = []
    for gram, count in sorted(frequent.items(), key=lambda item: (-len(item[0]), -item[1], item[0])):
        if any(count == c and _inside(gram, longer) for longer, c in reported):
            continue
        reported.append((gram, count))
    return [(" ".join(gram), count) for gram, count in reported]


def _inside(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    n = len(short)
    return any(long[i : i + n] == short for i in range(len(long) - n + 1))
