"""Settings that take a shape of their own in the environment (ffgate/config.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
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


# --- Redis through Sentinel, timeouts, log format, secret files ---------------------------------------------


def _invalid(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], **env: str) -> str:
    """What `ffgate` prints when it refuses to start with these variables."""
    from ffgate.cli.main import load_settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(typer.Exit) as exit_info:
        load_settings()
    assert exit_info.value.exit_code == 2
    return capsys.readouterr().err


def test_sentinels_are_read_as_host_port_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFGATE_REDIS_SENTINELS", "10.0.0.5:26379, sentinel-b:26380,[::1]:26381,")
    monkeypatch.setenv("FFGATE_REDIS_SENTINEL_MASTER", " ffgate ")
    settings = Settings()
    expected = [("10.0.0.5", 26379), ("sentinel-b", 26380), ("::1", 26381)]
    assert settings.redis_sentinels == expected
    assert settings.redis_sentinel == (expected, "ffgate")


def test_without_sentinels_redis_is_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FFGATE_REDIS_SENTINELS", raising=False)
    monkeypatch.delenv("FFGATE_REDIS_SENTINEL_MASTER", raising=False)
    settings = Settings()
    assert settings.redis_sentinels == [] and settings.redis_sentinel is None
    assert (settings.redis_timeout_s, settings.redis_retry_for_s) == (1.0, 15.0)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"FFGATE_REDIS_SENTINELS": "sentinel-a", "FFGATE_REDIS_SENTINEL_MASTER": "m"},
            "FFGATE_REDIS_SENTINELS: ",
        ),
        ({"FFGATE_REDIS_SENTINELS": "a:26379,b:x", "FFGATE_REDIS_SENTINEL_MASTER": "m"}, "not 'b:x'"),
        ({"FFGATE_REDIS_SENTINELS": "a:0", "FFGATE_REDIS_SENTINEL_MASTER": "m"}, "a port is 1-65535"),
        ({"FFGATE_REDIS_SENTINELS": "a:26379"}, "FFGATE_REDIS_SENTINEL_MASTER: Value error, required with"),
        (
            {"FFGATE_REDIS_SENTINEL_MASTER": "m"},
            "FFGATE_REDIS_SENTINEL_MASTER: Value error, set FFGATE_REDIS_SENTINELS",
        ),
        ({"FFGATE_REDIS_TIMEOUT_S": "0"}, "FFGATE_REDIS_TIMEOUT_S: "),
        ({"FFGATE_LOG_FORMAT": "xml"}, "FFGATE_LOG_FORMAT: Input should be 'json' or 'text'"),
        ({"FFGATE_SECRETS_DIR": "/nonexistent/ffgate-secrets"}, "FFGATE_SECRETS_DIR: "),
    ],
)
def test_a_bad_value_stops_the_start_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str], message: str
) -> None:
    for name in ("FFGATE_REDIS_SENTINELS", "FFGATE_REDIS_SENTINEL_MASTER"):
        monkeypatch.delenv(name, raising=False)
    printed = _invalid(monkeypatch, capsys, **env)
    assert printed.startswith("ffgate: invalid configuration\n")
    assert message in printed, printed


def test_logs_are_json_unless_text_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FFGATE_LOG_FORMAT", raising=False)
    assert Settings().log_format == "json"
    monkeypatch.setenv("FFGATE_LOG_FORMAT", "text")
    assert Settings().log_format == "text"


def test_secrets_are_read_from_files_named_after_their_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "FFGATE_ADMIN_KEY").write_text("ffk_from_a_file\n")  # as `kubectl create secret` writes it
    (tmp_path / "FFGATE_KEY_PEPPER").write_text("pepper-from-a-file-0123456789")
    (tmp_path / "FFGATE_REDIS_URL").write_text("redis://:secret@redis-primary:6379/2")
    monkeypatch.setenv("FFGATE_SECRETS_DIR", str(tmp_path))
    for name in ("FFGATE_ADMIN_KEY", "FFGATE_KEY_PEPPER", "FFGATE_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.admin_key is not None and settings.admin_key.get_secret_value() == "ffk_from_a_file"
    assert settings.key_pepper is not None
    assert settings.key_pepper.get_secret_value() == "pepper-from-a-file-0123456789"
    assert settings.redis_url.host == "redis-primary" and settings.redis_url.path == "/2"
    # The environment wins over a file.
    monkeypatch.setenv("FFGATE_ADMIN_KEY", "ffk_from_the_environment")
    settings = Settings()
    assert settings.admin_key is not None
    assert settings.admin_key.get_secret_value() == "ffk_from_the_environment"


def test_the_default_secrets_directory_is_read_only_when_it_exists(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("FFGATE_SECRETS_DIR", raising=False)
    monkeypatch.delenv("FFGATE_ADMIN_KEY", raising=False)
    monkeypatch.setattr("ffgate.config.DEFAULT_SECRETS_DIR", str(tmp_path / "absent"))
    assert Settings().admin_key is None  # no warning (pytest turns warnings into errors), no error
    (tmp_path / "absent").mkdir()
    (tmp_path / "absent" / "FFGATE_ADMIN_KEY").write_text("ffk_mounted")
    admin_key = Settings().admin_key
    assert admin_key is not None and admin_key.get_secret_value() == "ffk_mounted"
