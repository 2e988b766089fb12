"""`check_dataset`: a training folder against Adobe's documented requirements (ffgate.datasets.requirements,
which cites them), per image and for the set.

Rules, their level, and where they come from:

| rule               | level   | what                                                   | source        |
|--------------------|---------|--------------------------------------------------------|---------------|
| unsupported-file   | error   | not .jpg/.jpeg/.png, or its content another format     | TRAIN, BEST   |
| unreadable         | error   | does not decode (truncated, corrupt, not an image)     | TRAIN         |
| too-small          | error   | shorter side under 1000 px                             | TRAIN         |
| below-recommended  | warning | shorter side under 1024 px                             | BEST          |
| aspect-ratio       | error   | wider than 16:9 or taller than 9:16                    | TRAIN, BEST   |
| file-too-large     | error   | over 50 MB                                             | BEST          |
| too-few-images     | error   | fewer than 10 usable images                            | TRAIN         |
| too-many-images    | error   | more than 30 images                                    | TRAIN         |
| near-duplicate     | warning | dHash within 6 bits of another image's                 | BEST          |
| caption-missing    | error   | some images have captions, this one none               | TRAIN, BEST   |
| no-captions        | info    | no image has a caption: Firefly will write them        | TRAIN         |
| caption-too-short  | warning | fewer than 5 words                                     | TRAIN, ours   |
| concept-missing    | error   | subject mode: the caption does not name --concept      | API, TRAIN    |
| no-concept         | warning | subject mode without --concept: that is not checked    |               |
| repeated-phrase    | warning | style mode: a 3+ word phrase in over half the captions | SEED, BEST    |
| subject-small      | warning | subject, plain background: subject box under 25%       | EL, BEST      |
| subject-off-centre | warning | subject, plain background: box centre off the middle   | EL            |
| best-quality       | info    | images under 2048 px (the newer page's best quality)   | TRAIN-2026    |

An error is something Firefly's trainer refuses or that defeats the model; a warning is Adobe's advice.
The check passes when there is no error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

from ffgate.datasets import captions as cap
from ffgate.datasets.images import Inspection, hamming, inspect
from ffgate.datasets.requirements import REQUIREMENTS, SOURCES, Requirements

Mode = Literal["subject", "style"]
Severity = Literal["error", "warning", "info"]
IMAGE_LIKE = {".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif", ".svg", ".psd", ".jfif"}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    source: str | None = None  # a key of SOURCES


@dataclass
class ImageReport:
    file: str
    bytes: int
    format: str | None = None
    width: int | None = None
    height: int | None = None
    caption: str | None = None
    dhash: str | None = None
    subject_area: float | None = None  # on a plain background only (see ffgate.datasets.images)
    subject_centre: tuple[float, float] | None = None  # (x, y), 0..1 from the top left
    findings: list[Finding] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not any(f.rule in ("unsupported-file", "unreadable") for f in self.findings)


@dataclass
class Report:
    directory: str
    mode: Mode
    concept: str | None
    images: list[ImageReport]
    findings: list[Finding]  # about the set as a whole

    def all_findings(self) -> list[Finding]:
        return [*self.findings, *(f for image in self.images for f in image.findings)]

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.all_findings() if f.severity == severity)

    @property
    def passed(self) -> bool:
        return self.count("error") == 0

    def rules_failed(self) -> set[str]:
        return {f.rule for f in self.all_findings() if f.severity != "info"}

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "mode": self.mode,
            "concept": self.concept,
            "passed": self.passed,
            "errors": self.count("error"),
            "warnings": self.count("warning"),
            "images": [asdict(image) for image in self.images],
            "findings": [asdict(f) for f in self.findings],
            "sources": SOURCES,
        }


class DatasetError(Exception):
    """The folder cannot be checked at all (missing, not a folder, an unreadable caption manifest)."""


def check_dataset(
    directory: Path, mode: Mode, concept: str | None = None, requirements: Requirements = REQUIREMENTS
) -> Report:
    if not directory.is_dir():
        raise DatasetError(f"{directory} is not a folder")
    try:
        manifest = cap.load_manifest(directory)
        entries = sorted(p for p in directory.iterdir() if not p.name.startswith("."))
    except (cap.ManifestError, OSError) as exc:
        raise DatasetError(str(exc)) from exc
    req = requirements
    concept = concept.strip() if concept and concept.strip() else None
    images: list[ImageReport] = []
    hashes: dict[str, int] = {}
    set_findings: list[Finding] = []
    for path in entries:
        if path.is_dir() or cap.is_caption_file(path):
            continue
        image = ImageReport(file=path.name, bytes=path.stat().st_size)
        images.append(image)
        extension = path.suffix.lower()
        if extension not in req.extensions:
            kind = (
                "an image format Firefly does not take"
                if extension in IMAGE_LIKE
                else "not a JPG or PNG image"
            )
            image.findings.append(
                Finding(
                    "unsupported-file",
                    "error",
                    f"{extension or 'no extension'}: {kind} (JPG or PNG only)",
                    "TRAIN",
                )
            )
            continue
        seen = inspect(path)
        _image_rules(image, seen, req)
        if image.usable:
            image.caption = cap.caption_for(path, manifest)
            if seen.dhash is not None:
                hashes[image.file] = seen.dhash
    usable = [i for i in images if i.usable]
    set_findings += _count_rules(len(usable), len(images), req)
    _duplicate_rules(usable, hashes, req)
    set_findings += _caption_rules(usable, mode, concept, req)
    if mode == "subject":
        _framing_rules(usable, req)
    small = [i.file for i in usable if i.width and i.height and min(i.width, i.height) < req.best_side_px]
    if small:
        set_findings.append(
            Finding(
                "best-quality",
                "info",
                f"{len(small)} of {len(usable)} images are under {req.best_side_px} px: Adobe's newer guide"
                f" asks for {req.best_side_px} px or more for best quality",
                "TRAIN-2026",
            )
        )
    return Report(str(directory), mode, concept, images, set_findings)


def _image_rules(image: ImageReport, seen: Inspection, req: Requirements) -> None:
    if seen.problem is not None:
        image.findings.append(
            Finding("unreadable", "error", f"cannot be read as an image ({seen.problem})", "TRAIN")
        )
        return
    image.format, image.width, image.height = seen.format, seen.width, seen.height
    image.dhash = f"{seen.dhash:016x}" if seen.dhash is not None else None
    if seen.framing is not None:
        image.subject_area = round(seen.framing.area, 3)
        image.subject_centre = (round(seen.framing.centre_x, 3), round(seen.framing.centre_y, 3))
    if seen.format not in req.formats:
        image.findings.append(
            Finding(
                "unsupported-file", "error", f"named {image.file} but its content is {seen.format}", "TRAIN"
            )
        )
        return
    assert seen.width is not None and seen.height is not None
    short, long = sorted((seen.width, seen.height))
    if short < req.min_side_px:
        message = f"{seen.width}x{seen.height}: the shorter side is under {req.min_side_px} px"
        image.findings.append(Finding("too-small", "error", message, "TRAIN"))
    elif short < req.recommended_side_px:
        side = req.recommended_side_px
        message = f"{seen.width}x{seen.height}: Adobe advises more than {side}x{side}"
        image.findings.append(Finding("below-recommended", "warning", message, "BEST"))
    if long / short > req.max_aspect + 1e-3:
        message = f"{seen.width}x{seen.height} is {long / short:.2f}:1, beyond 16:9 (or 9:16)"
        image.findings.append(Finding("aspect-ratio", "error", message, "TRAIN"))
    if image.bytes > req.max_file_bytes:
        megabytes = image.bytes / (1024 * 1024)
        message = f"{megabytes:.1f} MB: over the {req.max_file_bytes // (1024 * 1024)} MB limit"
        image.findings.append(Finding("file-too-large", "error", message, "BEST"))


def _count_rules(usable: int, total: int, req: Requirements) -> list[Finding]:
    found: list[Finding] = []
    if usable < req.min_images:
        message = f"{usable} usable images: Firefly trains on {req.min_images}-{req.max_images}"
        found.append(Finding("too-few-images", "error", message, "TRAIN"))
    if total > req.max_images:
        message = f"{total} images: Firefly trains on {req.min_images}-{req.max_images}; choose the best"
        found.append(Finding("too-many-images", "error", message, "TRAIN"))
    return found


def _duplicate_rules(images: list[ImageReport], hashes: dict[str, int], req: Requirements) -> None:
    by_name = {i.file: i for i in images}
    for (a, hash_a), (b, hash_b) in combinations(sorted(hashes.items()), 2):
        distance = hamming(hash_a, hash_b)
        if distance <= req.duplicate_distance:
            how = (
                "the same picture as"
                if distance == 0
                else f"a near-duplicate ({distance} of 64 bits apart) of"
            )
            by_name[b].findings.append(
                Finding("near-duplicate", "warning", f"{how} {a}: Adobe advises a varied set", "BEST")
            )


def _caption_rules(
    images: list[ImageReport], mode: Mode, concept: str | None, req: Requirements
) -> list[Finding]:
    found: list[Finding] = []
    captioned = [i for i in images if i.caption]
    if images and not captioned:
        message = "no image has a caption: Firefly's trainer will write them; review them there"
        return [Finding("no-captions", "info", message, "TRAIN")]
    for image in images:
        if not image.caption:
            image.findings.append(
                Finding("caption-missing", "error", "no caption (other images have one)", "TRAIN")
            )
            continue
        count = len(cap.words(image.caption))
        if count < req.min_caption_words:
            message = f"the caption has {count} words; describe the image as you will prompt (5+)"
            image.findings.append(Finding("caption-too-short", "warning", message, "TRAIN"))
        if mode == "subject" and concept and not cap.names_concept(image.caption, concept):
            message = f"the caption does not name the concept '{concept}'"
            image.findings.append(Finding("concept-missing", "error", message, "API"))
    if mode == "subject" and not concept:
        message = "no --concept given: whether each caption names the subject's concept is not checked"
        found.append(Finding("no-concept", "warning", message))
    if mode == "style":
        texts = [i.caption for i in captioned if i.caption]
        for phrase, holders in cap.repeated_phrases(
            texts, req.repeated_phrase_words, req.repeated_phrase_share
        ):
            message = (
                f'"{phrase}" is in {holders} of {len(texts)} captions: a fixed phrase becomes part of the'
                " style; describe what differs instead"
            )
            found.append(Finding("repeated-phrase", "warning", message, "SEED"))
    return found


def _framing_rules(images: list[ImageReport], req: Requirements) -> None:
    for image in images:
        if image.subject_area is None or image.subject_centre is None:
            continue  # not a plain background: the heuristic says nothing
        if image.subject_area < req.min_subject_area:
            share = f"{image.subject_area:.0%}"
            message = (
                f"on its plain background the subject's box covers about {share} of the image (aim for 25%+)"
            )
            image.findings.append(Finding("subject-small", "warning", message, "EL"))
        x, y = image.subject_centre
        if max(abs(x - 0.5), abs(y - 0.5)) > req.max_centre_offset:
            message = f"the subject's centre is at {x:.0%} across, {y:.0%} down: keep it near the middle"
            image.findings.append(Finding("subject-off-centre", "warning", message, "EL"))
