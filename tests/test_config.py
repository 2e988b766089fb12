"""Settings that take a shape of their own in the environment (ffgate/config.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from ffgate.config import Settings


def test_client_weights_are_read_as_name_equals_weight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFGATE_CLIENT_WEIGHTS", "svc-a=3, batch = 1,")
    assert Settings().client_weights == {"svc-a": 3, "batch": 1}
    monkeypatch.delenv("FFGATE_CLIENT_WEIGHTS")
    assert Settings().client_weights == {}


@pytest.mark.parametrize("value", ["svc-a", "svc-a=0", "=2", "svc-a=heavy"])
def test_a_weight_must_name_a_client_and_be_at_least_1(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FFGATE_CLIENT_WEIGHTS", value)
    with pytest.raises(ValidationError, match="client_weights"):
        Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FFGATE_FIREFLY_URL", "firefly-api.adobe.io"),  # no scheme: every submit would fail late
        ("FFGATE_IMS_URL", "ftp://ims.example"),
        ("FFGATE_LOG_LEVEL", "verbose"),
        ("FFGATE_POLL_CONCURRENCY", "0"),
        ("FFGATE_DELIVERY_CONCURRENCY", "0"),
        ("FFGATE_SUBMIT_CONCURRENCY", "0"),
        ("FFGATE_UPSTREAM_TIMEOUT_S", "0"),
        ("FFGATE_WORKER_DRAIN_S", "10"),  # shorter than the 15 s upstream timeout
    ],
)
def test_bad_values_stop_the_start_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    result = subprocess.run(
        [sys.executable, "-m", "ffgate", "worker"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "ffgate: invalid configuration"
    assert len(lines) == 2 and name in lines[1], lines
    assert "Traceback" not in result.stderr


def test_urls_and_log_level_are_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFGATE_FIREFLY_URL", "http://127.0.0.1:8090/")
    monkeypatch.setenv("FFGATE_IMS_URL", "https://ims-na1.adobelogin.com")
    monkeypatch.setenv("FFGATE_LOG_LEVEL", "debug")
    settings = Settings()
    assert settings.firefly_base == "http://127.0.0.1:8090"
    assert settings.ims_token_url == "https://ims-na1.adobelogin.com/ims/token/v3"
    assert settings.log_level == "DEBUG"


def test_the_worker_drain_outlasts_the_upstream_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFGATE_UPSTREAM_TIMEOUT_S", "15")
    assert Settings().drain_s == 20
    monkeypatch.setenv("FFGATE_WORKER_DRAIN_S", "16")
    assert Settings().drain_s == 16
