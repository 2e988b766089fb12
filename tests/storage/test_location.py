"""FFGATE_STORAGE_URL: the forms it takes, the ones refused at start, and the settings around it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from ffgate.cli import app
from ffgate.config import Settings
from ffgate.storage import FileLocation, S3Location, parse_storage_url


@pytest.fixture(autouse=True)
def no_storage_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FFGATE_STORAGE_URL", "FFGATE_STORAGE_CREATE_BUCKET", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("file:///var/lib/ffgate", "/var/lib/ffgate"),
        ("file://localhost/var/lib/ffgate/", "/var/lib/ffgate"),
        ("file:///srv/a%20b/../c", "/srv/c"),
        ("file://./outputs", "{cwd}/outputs"),
        ("file://../outputs", "{parent}/outputs"),
        ("file:outputs/x", "{cwd}/outputs/x"),
    ],
)
def test_a_file_url_is_an_absolute_directory(url: str, root: str, tmp_path: Path) -> None:
    expected = Path(root.format(cwd=tmp_path, parent=tmp_path.parent))
    location = parse_storage_url(url, cwd=tmp_path)
    assert location == FileLocation(expected)
    assert parse_storage_url(location.url) == location  # the canonical form reads back the same


def test_a_directory_with_odd_characters_survives_the_canonical_form() -> None:
    location = FileLocation(Path("/srv/out puts/%41#?"))
    assert location.url == "file:///srv/out%20puts/%2541%23%3F"
    assert parse_storage_url(location.url) == location


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://ffgate-outputs", S3Location("ffgate-outputs")),
        ("s3://ffgate-outputs/", S3Location("ffgate-outputs")),
        ("s3://ffgate.outputs/prod//images/", S3Location("ffgate.outputs", "prod/images")),
        ("s3://bkt/p?addressing=virtual", S3Location("bkt", "p", "virtual")),
        ("S3://bkt/p?addressing=auto", S3Location("bkt", "p", "auto")),
    ],
)
def test_an_s3_url_is_a_bucket_and_a_prefix(url: str, expected: S3Location) -> None:
    location = parse_storage_url(url)
    assert location == expected
    assert parse_storage_url(location.url) == location  # the canonical form reads back the same


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("/var/lib/ffgate", "file:// or s3://"),
        ("https://bucket.s3.amazonaws.com/x", "file:// or s3://"),
        ("file://nas/share", "no remote host"),
        ("file:///", "root directory"),
        ("file:///x?mode=1", "no query"),
        ("s3://AKIAXXXX:hunter2hunter2@bucket/x", "AWS_ACCESS_KEY_ID"),
        ("s3://127.0.0.1:9000/bucket", "AWS_ENDPOINT_URL_S3"),
        ("s3://ab", "bucket name"),
        ("s3://Upper_Case", "bucket name"),
        ("s3://bucket/a/../b", "'..'"),
        ("s3://bucket/x?region=eu-west-1", "only option"),
        ("s3://bucket/x?addressing=dns", "path, virtual or auto"),
    ],
)
def test_a_wrong_url_is_refused_saying_why(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_storage_url(url)


def test_the_default_store_is_a_directory_under_where_ffgate_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.storage_url == f"file://{tmp_path}/ffgate-data/outputs"
    assert settings.storage_location == FileLocation(tmp_path / "ffgate-data" / "outputs")
    assert not (tmp_path / "ffgate-data").exists()  # nothing is made before a store is opened
    assert (settings.storage_create_bucket, settings.aws_region) == (False, None)


def test_storage_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFGATE_STORAGE_URL", "s3://ffgate-outputs/prod")
    monkeypatch.setenv("FFGATE_STORAGE_CREATE_BUCKET", "true")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    settings = Settings()
    assert settings.storage_location == S3Location("ffgate-outputs", "prod")
    assert (settings.storage_create_bucket, settings.aws_region) == (True, "eu-west-3")


def test_a_wrong_storage_url_stops_the_process_naming_the_variable_not_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FFGATE_STORAGE_URL", "s3://AKIAIOSFODNN7:wJalrXUtnFEMIK7MDENGbPxRfiCY@bucket")
    with pytest.raises(ValidationError, match="storage_url"):
        Settings()
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 2
    assert "FFGATE_STORAGE_URL" in result.stderr and "AWS_ACCESS_KEY_ID" in result.stderr
    assert "wJalrXUtnFEMIK7" not in result.output + result.stderr
