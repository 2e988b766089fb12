"""The emulator's own settings: the same FFGATE_EMULATOR_* names as before, none of them in the gateway's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from emulator.settings import EmulatorSettings, env_name
from ffgate.config import Settings


@pytest.fixture(autouse=True)
def no_ffgate_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("FFGATE_"):
            monkeypatch.delenv(name)


def test_every_field_is_read_from_its_ffgate_emulator_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "client_id": "cid",
        "client_secret": "csecret",
        "public_url": "http://emulator:8090/",
        "token_ttl_s": "60",
        "job_latency_s": "0.5",
        "failure_rate": "0.25",
        "failure_code": "prompt_unsafe",
        "rpm": "10",
        "rpd": "100",
        "limit_status_calls": "true",
        "retry_after_format": "http-date",
        "image_format": "png",
        "image_max_side": "512",
        "url_ttl_s": "120",
        "image_min_bytes": "1000",
        "image_max_bytes": "2000",
    }
    assert set(values) == set(EmulatorSettings.model_fields)
    for field, value in values.items():
        monkeypatch.setenv(env_name(field), value)

    settings = EmulatorSettings()

    assert settings.client_secret.get_secret_value() == "csecret"
    assert settings.public_url == "http://emulator:8090"
    assert (settings.rpm, settings.rpd, settings.image_max_side, settings.limit_status_calls) == (
        10,
        100,
        512,
        True,
    )
    assert (settings.retry_after_format, settings.image_format) == ("http-date", "png")
    assert env_name("rpm") == "FFGATE_EMULATOR_RPM"
    assert (settings.image_min_bytes, settings.image_max_bytes) == (1000, 2000)


def test_the_gateways_settings_hold_nothing_of_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFGATE_EMULATOR_RPM", "not-a-number")  # not the gateway's to read, so no error
    assert not [name for name in Settings.model_fields if name.startswith("emulator")]
    Settings()


def test_defaults_are_adobes_limits_and_images_the_size_asked() -> None:
    settings = EmulatorSettings()
    assert (settings.rpm, settings.rpd, settings.token_ttl_s, settings.url_ttl_s) == (4, 9000, 86399, 3600)
    assert settings.image_max_side == 4096
    assert settings.public_url is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rpm", "-1"),
        ("failure_rate", "1.5"),
        ("image_max_side", "0"),
        ("image_max_side", "5000"),
        ("token_ttl_s", "0"),
        ("job_latency_s", "-2"),
        ("image_format", "gif"),
        ("retry_after_format", "minutes"),
        ("public_url", "emulator:8090"),
        ("public_url", "ftp://emulator"),
        ("client_id", ""),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str
) -> None:
    monkeypatch.setenv(env_name(field), value)

    with pytest.raises(ValidationError) as caught:
        EmulatorSettings()

    assert [error["loc"] for error in caught.value.errors()] == [(field,)]


def test_an_empty_public_url_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFGATE_EMULATOR_PUBLIC_URL", "")
    assert EmulatorSettings().public_url is None


def test_the_emulator_process_fails_at_start_naming_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FFGATE_")}
    env["FFGATE_EMULATOR_FAILURE_RATE"] = "often"
    done = subprocess.run(
        [sys.executable, "-m", "ffgate", "emulator", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "FFGATE_EMULATOR_FAILURE_RATE" in done.stderr
