"""`check_dataset` and `ffgate dataset check` on training sets the tests draw: a good subject set passes,
and each rule fails on a copy of it made to break that rule (ffgate.datasets.check lists the rules)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from ffgate.cli import app
from ffgate.datasets import Report, check_dataset
from ffgate.datasets.captions import names_concept, repeated_phrases
from ffgate.datasets.images import dhash, hamming
from tests.datasets.sets import CAPTIONS, STYLE_CAPTIONS, router_image, write_set


@pytest.fixture(scope="module")
def good_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("good") / "routers"
    write_set(directory)
    return directory


@pytest.fixture
def broken(good_set: Path, tmp_path: Path) -> Path:
    """A fresh copy of the good set, to break one rule in."""
    return Path(shutil.copytree(good_set, tmp_path / "set"))


def rules_of(report: Report, file: str | None = None) -> set[str]:
    if file is None:
        return {f.rule for f in report.findings}
    [image] = [i for i in report.images if i.file == file]
    return {f.rule for f in image.findings}


def test_the_good_subject_set_passes_with_nothing_to_warn_about(good_set: Path) -> None:
    report = check_dataset(good_set, "subject", "router")
    assert report.passed
    assert report.count("warning") == 0, report.all_findings()
    assert len(report.images) == 12
    assert all(i.width == i.height == 1024 and i.format == "JPEG" for i in report.images)
    assert all(i.caption and i.subject_area and i.subject_area >= 0.25 for i in report.images)
    # Only the newer page's "2048 px for best quality" is mentioned, as information.
    assert rules_of(report) == {"best-quality"}


def test_the_good_pictures_are_far_apart_to_the_perceptual_hash(good_set: Path) -> None:
    hashes = [dhash(Image.open(p).convert("RGB")) for p in sorted(good_set.glob("*.jpg"))]
    distances = [hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    assert min(distances) > 6  # so every near-duplicate found below is one the test made


def test_unsupported_and_unreadable_files_are_errors(broken: Path) -> None:
    router_image(1).save(broken / "extra.webp", format="WEBP")
    router_image(2).save(broken / "extra.gif", format="GIF")
    router_image(3).save(
        broken / "disguised.jpg", format="PNG"
    )  # a PNG named .jpg is still read as PNG: fine
    router_image(4).save(broken / "tiff-named.png", format="TIFF")
    (broken / "notes.md").write_text("shoot list")
    whole = (broken / "router-00.jpg").read_bytes()
    (broken / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (broken / "garbage.png").write_bytes(b"not an image at all" * 100)
    report = check_dataset(broken, "subject", "router")
    assert not report.passed
    for name in ("extra.webp", "extra.gif", "tiff-named.png", "notes.md"):
        assert "unsupported-file" in rules_of(report, name), name
    for name in ("truncated.jpg", "garbage.png"):
        assert rules_of(report, name) == {"unreadable"}, name
    assert "unsupported-file" not in rules_of(report, "disguised.jpg")


def test_too_small_images_are_errors_and_just_under_1024_a_warning(broken: Path) -> None:
    router_image(5, size=(999, 1200)).save(broken / "small.jpg")
    router_image(6, size=(1010, 1010)).save(broken / "almost.jpg")
    for name in ("small", "almost"):
        (broken / f"{name}.txt").write_text("a router on a marble table in a sunny hallway")
    report = check_dataset(broken, "subject", "router")
    assert rules_of(report, "small.jpg") == {"too-small"}
    assert rules_of(report, "almost.jpg") == {"below-recommended"}
    assert not report.passed


def test_wider_than_16_9_is_an_error(broken: Path) -> None:
    router_image(7, size=(2000, 1100)).save(broken / "wide.jpg")  # 1.82:1
    router_image(8, size=(1920, 1080)).save(broken / "exact.jpg")  # 16:9 exactly is allowed
    for name in ("wide", "exact"):
        (broken / f"{name}.txt").write_text("a router on a long wooden bench in a park")
    report = check_dataset(broken, "subject", "router")
    assert "aspect-ratio" in rules_of(report, "wide.jpg")
    assert "aspect-ratio" not in rules_of(report, "exact.jpg")


def test_a_file_over_50_mb_is_an_error(broken: Path) -> None:
    big = broken / "router-03.jpg"
    with big.open("r+b") as handle:  # bytes after the JPEG's end marker: still a valid image, now 51 MB
        handle.truncate(51 * 1024 * 1024)
    report = check_dataset(broken, "subject", "router")
    assert rules_of(report, "router-03.jpg") == {"file-too-large"}
    assert not report.passed


def test_too_few_and_too_many_images_are_errors(broken: Path, tmp_path: Path) -> None:
    for path in sorted(broken.glob("router-*.jpg"))[3:]:
        path.unlink()
    few = check_dataset(broken, "subject", "router")
    assert "too-few-images" in rules_of(few) and not few.passed

    many = tmp_path / "many"
    write_set(many, count=31)
    report = check_dataset(many, "subject", "router")
    assert "too-many-images" in rules_of(report) and not report.passed


def test_near_duplicates_are_found_after_re_encoding_and_resizing(broken: Path) -> None:
    original = Image.open(broken / "router-04.jpg")
    original.resize((1100, 1100)).save(broken / "router-04-again.png", format="PNG")
    (broken / "router-04-again.txt").write_text(CAPTIONS[4] + " again")
    report = check_dataset(broken, "subject", "router")
    [finding] = [f for i in report.images for f in i.findings if f.rule == "near-duplicate"]
    assert "router-04" in finding.message
    assert report.passed  # a warning: Adobe advises variety, it does not refuse


def test_a_missing_caption_is_an_error_and_a_short_one_a_warning(broken: Path) -> None:
    (broken / "router-01.txt").unlink()
    (broken / "router-02.txt").write_text("a router\n")
    (broken / "router-05.txt").write_text("   \n")  # empty counts as missing
    report = check_dataset(broken, "subject", "router")
    assert rules_of(report, "router-01.jpg") == {"caption-missing"}
    assert rules_of(report, "router-05.jpg") == {"caption-missing"}
    assert rules_of(report, "router-02.jpg") == {"caption-too-short"}
    assert not report.passed


def test_a_set_without_any_caption_is_left_to_firefly(tmp_path: Path) -> None:
    write_set(tmp_path / "bare", captions=[])
    report = check_dataset(tmp_path / "bare", "subject", "router")
    assert "no-captions" in rules_of(report) and report.passed


def test_captions_can_come_from_a_manifest(tmp_path: Path) -> None:
    directory = tmp_path / "manifest"
    paths = write_set(directory, captions=[])
    manifest = {p.name: CAPTIONS[i] for i, p in enumerate(paths[:6])}
    (directory / "captions.json").write_text(json.dumps(manifest))
    rows = [f"{p.name},{CAPTIONS[i + 6]}" for i, p in enumerate(paths[6:])]
    (directory / "captions.csv").write_text("file,caption\n" + "\n".join(rows) + "\n")
    report = check_dataset(directory, "subject", "router")
    assert report.passed and all(i.caption for i in report.images)


def test_subject_captions_must_name_the_concept(broken: Path) -> None:
    (broken / "router-06.txt").write_text("a black box with antennas on a glass shelf in an office")
    report = check_dataset(broken, "subject", "router")
    assert rules_of(report, "router-06.jpg") == {"concept-missing"}
    assert not report.passed
    assert "no-concept" in rules_of(check_dataset(broken, "subject"))


def test_concept_matching_takes_whole_words_any_case_and_plurals() -> None:
    assert names_concept("Two Routers on a desk", "router")
    assert names_concept("a ROUTER.", "router")
    assert not names_concept("a routerboard on a desk", "router")
    assert names_concept("the harbor mascot waves", "harbor mascot")


def test_style_captions_with_a_fixed_phrase_are_warned_about(tmp_path: Path) -> None:
    fixed = [f"{c}. The background is solid black" for c in STYLE_CAPTIONS[:8]] + STYLE_CAPTIONS[8:]
    write_set(tmp_path / "style", captions=fixed)
    report = check_dataset(tmp_path / "style", "style")
    [finding] = [f for f in report.findings if f.rule == "repeated-phrase"]
    assert '"the background is solid black" is in 8 of 12 captions' in finding.message

    write_set(tmp_path / "varied", captions=STYLE_CAPTIONS)
    assert "repeated-phrase" not in rules_of(check_dataset(tmp_path / "varied", "style"))


def test_repeated_phrases_are_reported_once_at_their_longest() -> None:
    captions = [
        "a red cube on a white table",
        "a blue cone on a white table",
        "a cat on a white table",
        "a dog",
    ]
    assert repeated_phrases(captions, 3, 0.5) == [("on a white table", 3)]
    assert repeated_phrases(captions, 3, 0.75) == []


def test_a_small_or_off_centre_subject_on_a_plain_background_is_warned_about(broken: Path) -> None:
    router_image(9, scale=0.3).save(broken / "tiny.jpg")
    router_image(10, scale=0.4, centre=(0.22, 0.5)).save(broken / "aside.jpg")
    scene = router_image(11, scale=0.3)
    scene.paste((30, 120, 60), (0, 0, 1024, 300))  # a busy border: no plain background to judge by
    scene.paste((200, 30, 30), (0, 700, 1024, 1024))
    scene.save(broken / "scene.jpg")
    for name in ("tiny", "aside", "scene"):
        (broken / f"{name}.txt").write_text("a router on a plain studio backdrop, seen from the front")
    report = check_dataset(broken, "subject", "router")
    assert rules_of(report, "tiny.jpg") == {"subject-small"}
    assert "subject-off-centre" in rules_of(report, "aside.jpg")
    assert rules_of(report, "scene.jpg") == set()  # the heuristic says nothing it cannot know
    assert report.passed
    assert rules_of(check_dataset(broken, "style")) & {"subject-small", "subject-off-centre"} == set()


# --- the command --------------------------------------------------------------------------------------------


def test_the_command_exits_0_on_the_good_set_and_1_on_an_error(good_set: Path, broken: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["dataset", "check", str(good_set), "--mode", "subject", "--concept", "router"])
    assert ok.exit_code == 0, ok.output
    assert "passed" in ok.output and "router-11.jpg" in ok.output

    (broken / "router-00.txt").unlink()
    failed = runner.invoke(app, ["dataset", "check", str(broken), "--mode", "subject", "--concept", "router"])
    assert failed.exit_code == 1
    assert "caption-missing" in failed.output and "failed" in failed.output


def test_the_command_reports_json(broken: Path) -> None:
    router_image(12, size=(800, 800)).save(broken / "small.png", format="PNG")
    result = CliRunner().invoke(app, ["dataset", "check", str(broken), "--mode", "subject", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["passed"] is False and report["errors"] >= 1
    [small] = [i for i in report["images"] if i["file"] == "small.png"]
    assert {f["rule"] for f in small["findings"]} >= {"too-small", "caption-missing"}
    assert "no-concept" in {f["rule"] for f in report["findings"]}
    assert report["sources"]["TRAIN"].startswith("https://helpx.adobe.com/")


def test_a_folder_that_is_not_there_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dataset", "check", str(tmp_path / "nope"), "--mode", "style"])
    assert result.exit_code == 2
    assert "not a folder" in result.stderr and "Traceback" not in result.output
