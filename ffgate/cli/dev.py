"""`ffgate dev`: the whole stack on one machine, as supervised child processes.

Redis (an embedded one when nothing answers at FFGATE_REDIS_URL), the emulator (when FFGATE_FIREFLY_URL is
unset), the workers and the gateway start in that order, each waited for until it answers. Ctrl-C or
SIGTERM stops them in the reverse order and exits 0; a child that dies on its own stops the rest and exits 1.
The children are `python -m ffgate <process>` with the supervisor's environment plus what `plan_stack`
decides, so each builds its own `Settings` as in production.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from emulator import settings as emulator_config
from emulator.settings import EmulatorSettings
from ffgate.cli import processes
from ffgate.cli.processes import Child
from ffgate.config import Settings

READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0

# Adobe's real limits (4 requests/minute) make a first walk-through take minutes; the emulator and the
# gateway's own limiter are opened up unless the user set a value.
WALKTHROUGH_SETTINGS = {"upstream_rpm": "0", "upstream_rpd": "0", "poll_first_s": "1"}
WALKTHROUGH_EMULATOR_SETTINGS = {"rpm": "0", "rpd": "0", "job_latency_s": "3"}


def env_name(setting: str) -> str:
    return "FFGATE_" + setting.upper()


@dataclass(frozen=True)
class DevOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    emulator_port: int = 8090
    redis_port: int = 6390
    workers: int = 1


@dataclass(frozen=True)
class StackPlan:
    """What `ffgate dev` starts and the environment its children get on top of the supervisor's."""

    redis_url: str
    embedded_redis: bool
    emulator_url: str | None  # None: the user's FFGATE_FIREFLY_URL is used, no emulator
    admin_key: str
    admin_key_generated: bool
    env: dict[str, str] = field(default_factory=dict)  # for every child
    loosened: dict[str, str] = field(default_factory=dict)  # walk-through values applied (env names)

    @property
    def admin_env(self) -> dict[str, str]:
        """On top of `env`, for the gateway and the workers (which sign the admin's webhooks with what is
        derived from it), not the emulator: the admin key, when `ffgate dev` made one."""
        return {env_name("admin_key"): self.admin_key} if self.admin_key_generated else {}


def generate_admin_key() -> str:
    return "ffk_" + secrets.token_urlsafe(32)


def plan_stack(
    settings: Settings,
    emulator: EmulatorSettings,
    options: DevOptions,
    *,
    redis_up: bool,
    new_admin_key: Callable[[], str] = generate_admin_key,
) -> StackPlan:
    """Decide what to start and what the children are told.

    A value the user set (it is in `settings.model_fields_set` or `emulator.model_fields_set`) is kept,
    except the upstream URLs and credentials when the emulator is started: they must be the emulator's.
    """
    user_set = settings.model_fields_set
    env: dict[str, str] = {}

    redis_url = str(settings.redis_url)
    if not redis_up:
        redis_url = f"redis://127.0.0.1:{options.redis_port}/0"
        env[env_name("redis_url")] = redis_url
        if settings.redis_sentinel:  # none answered: the embedded one replaces them
            env[env_name("redis_sentinels")] = env[env_name("redis_sentinel_master")] = ""
    if "log_format" not in user_set:
        env[env_name("log_format")] = "text"  # a person reads these lines

    emulator_url: str | None = None
    loosened: dict[str, str] = {}
    if "firefly_url" not in user_set:
        emulator_url = f"http://127.0.0.1:{options.emulator_port}"
        # The gateway must hold the credentials the emulator accepts, whatever else is configured.
        env[env_name("firefly_url")] = emulator_url
        env[env_name("ims_url")] = emulator_url
        env[env_name("adobe_client_id")] = emulator.client_id
        env[env_name("adobe_client_secret")] = emulator.client_secret.get_secret_value()
        loosened = {env_name(k): v for k, v in WALKTHROUGH_SETTINGS.items() if k not in user_set}
        loosened |= {
            emulator_config.env_name(k): v
            for k, v in WALKTHROUGH_EMULATOR_SETTINGS.items()
            if k not in emulator.model_fields_set
        }
        env.update(loosened)

    given_key = settings.admin_key.get_secret_value() if settings.admin_key else None
    return StackPlan(
        redis_url=redis_url,
        embedded_redis=not redis_up,
        emulator_url=emulator_url,
        admin_key=given_key if given_key is not None else new_admin_key(),
        admin_key_generated=given_key is None,
        env=env,
        loosened=loosened,
    )


def connect_host(host: str) -> str:
    """The address to reach a server bound to `host` from this machine, bracketed for a URL."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class DevError(Exception):
    """Something that ends `ffgate dev` with exit 1; the message says what and is shown as is."""


class StopRequested(Exception):
    pass


class Supervisor:
    """Starts children, waits for each to answer, watches them, stops them in the reverse order."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.children: list[Child] = []
        self.stopping = threading.Event()
        self.hurry = threading.Event()  # a second Ctrl-C: kill instead of waiting

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping.is_set():
            self.hurry.set()
        self.stopping.set()

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        style = processes.PREFIX_STYLES[len(self.children) % len(processes.PREFIX_STYLES)]
        child = processes.spawn(name, argv, env, self.console, style)
        self.children.append(child)
        return child

    def adopt(self, child: Child) -> None:
        self.children.append(child)

    def check_children(self) -> None:
        if self.stopping.is_set():
            raise StopRequested
        for child in self.children:
            code = child.proc.poll()
            if code is not None:
                raise DevError(
                    f"{child.name} (pid {child.pid}) stopped unexpectedly: it {processes.describe_exit(code)}"
                )

    def wait_ready(self, child: Child, probe: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            self.check_children()
            if probe():
                return
            if time.monotonic() > deadline:
                raise DevError(f"{child.name} did not answer {what} within {READY_TIMEOUT_S:.0f} s")
            self.stopping.wait(0.2)

    def watch(self) -> None:
        """Return only by raising: StopRequested on a signal, DevError when a child stops."""
        while True:
            self.check_children()
            self.stopping.wait(0.5)

    def stop_all(self) -> None:
        # Gateway and workers first, then the emulator, then Redis: nobody logs a dead dependency.
        stage_of = {"emulator": 1, "redis": 2}
        for stage in range(3):
            group = [c for c in self.children if stage_of.get(c.name, 0) == stage]
            if group:
                processes.stop_children(group, STOP_GRACE_S, self.hurry)


@contextmanager
def _signals_to(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    names = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, handler) for sig in names}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_dev(settings: Settings, emulator: EmulatorSettings, options: DevOptions, console: Console) -> int:
    """Run the stack until a signal (exit 0) or a failure (exit 1); see the module docstring."""
    plan = plan_stack(settings, emulator, options, redis_up=processes.redis_answers(settings))
    try:
        check_ports_free(plan, options)
    except DevError as exc:
        console.print(f"[bold red]ffgate dev:[/] {escape(str(exc))}")
        return 1

    if plan.embedded_redis:
        # Not the URL: it may hold a password.
        where = f"{settings.redis_url.host}:{settings.redis_url.port}"
        if settings.redis_sentinel:
            where = "the primary of FFGATE_REDIS_SENTINELS"
        console.print(f"[bold]ffgate dev:[/] no Redis answers at {escape(where)}: starting an embedded one")
    supervisor = Supervisor(console)
    workdir = Path(tempfile.mkdtemp(prefix="ffgate-dev-")) if plan.embedded_redis else None
    code = 1
    with _signals_to(supervisor.on_signal):
        try:
            start_stack(supervisor, plan, options, workdir)
            print_banner(console, plan, options)
            supervisor.watch()
        except StopRequested:
            console.print("[bold]ffgate dev:[/] stopping...")
            code = 0
        except (DevError, OSError) as exc:  # OSError: a process could not be started at all
            console.print(f"[bold red]ffgate dev:[/] {escape(str(exc))}; stopping the others.")
        finally:
            supervisor.stop_all()
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
    return code


def check_ports_free(plan: StackPlan, options: DevOptions) -> None:
    wanted = [(options.host, options.port, "--port")]
    if plan.emulator_url:
        wanted.append(("127.0.0.1", options.emulator_port, "--emulator-port"))
    if plan.embedded_redis:
        wanted.append(("127.0.0.1", options.redis_port, "--redis-port"))
    for host, port, flag in wanted:
        if processes.port_in_use(host, port):
            raise DevError(f"port {port} on {host} is already in use: choose another with {flag}")


def start_stack(supervisor: Supervisor, plan: StackPlan, options: DevOptions, workdir: Path | None) -> None:
    env = {**os.environ, **plan.env, "PYTHONUNBUFFERED": "1"}
    ffgate = [sys.executable, "-m", "ffgate"]

    if workdir is not None:
        redis_child = processes.start_embedded_redis(options.redis_port, workdir, supervisor.console)
        supervisor.adopt(redis_child)
        supervisor.wait_ready(redis_child, lambda: processes.redis_answers(plan.redis_url), "PING")

    if plan.emulator_url:
        emulator_argv = [*ffgate, "emulator", "--host", "127.0.0.1", "--port", str(options.emulator_port)]
        emulator = supervisor.start("emulator", emulator_argv, env)
        stats_url = f"{plan.emulator_url}/_emulator/stats"
        supervisor.wait_ready(emulator, lambda: processes.http_ok(stats_url), "GET /_emulator/stats")

    for n in range(1, options.workers + 1):
        name = "worker" if options.workers == 1 else f"worker-{n}"
        supervisor.start(name, [*ffgate, "worker"], {**env, **plan.admin_env})

    gateway_argv = [*ffgate, "serve", "--host", options.host, "--port", str(options.port)]
    gateway = supervisor.start("gateway", gateway_argv, {**env, **plan.admin_env})
    healthz = f"{gateway_url(options)}/healthz"
    supervisor.wait_ready(gateway, lambda: processes.http_ok(healthz), "GET /healthz")


def gateway_url(options: DevOptions) -> str:
    return f"http://{connect_host(options.host)}:{options.port}"


def print_banner(console: Console, plan: StackPlan, options: DevOptions) -> None:
    url = gateway_url(options)
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column()
    table.add_row("[bold]gateway[/]", escape(url))
    if plan.emulator_url:
        table.add_row("[bold]emulator[/]", f"{escape(plan.emulator_url)}  (Adobe IMS + Firefly stand-in)")
    else:
        table.add_row("[bold]upstream[/]", "FFGATE_FIREFLY_URL as you set it (no emulator)")
    redis_note = "embedded, temporary: gone on exit" if plan.embedded_redis else "already running"
    table.add_row("[bold]redis[/]", f"{escape(plan.redis_url)}  ({redis_note})")
    table.add_row("[bold]workers[/]", str(options.workers))
    if plan.admin_key_generated:
        table.add_row("[bold]admin key[/]", f"{plan.admin_key}  (generated)")
        key = plan.admin_key
    else:
        table.add_row("[bold]admin key[/]", "your FFGATE_ADMIN_KEY")
        key = '"$FFGATE_ADMIN_KEY"'
    console.print(Panel(table, title="ffgate dev: ready", title_align="left", border_style="green"))
    if plan.loosened:
        values = " ".join(f"{k}={v}" for k, v in plan.loosened.items())
        note = f"emulator limits loosened for the walk-through: {values} (set any to override)"
        console.print(note, soft_wrap=True, highlight=False, markup=False)
    # Outside the panel and unwrapped, so the lines can be copied as they are.
    lines = ["First call:", f"  KEY={key}", f'  curl -H "Authorization: Bearer $KEY" {url}/v1/custom-models']
    # `ffgate clients` hashes keys with a pepper derived from the admin key (unless FFGATE_KEY_PEPPER is set).
    admin_env = "FFGATE_ADMIN_KEY=$KEY " if plan.admin_key_generated else ""
    lines += [
        "A key per client service:",
        f"  {admin_env}FFGATE_REDIS_URL={plan.redis_url} ffgate clients create --name my-service",
        "Firefly's own API (code written for Firefly: point both Adobe hosts here, a client's id and key as",
        f"its credentials): {url}/ims/token/v3, {url}/v3/...; OpenAI's Images API: base_url={url}/v1",
    ]
    for line in [*lines, "Ctrl-C stops everything."]:
        console.print(line, soft_wrap=True, highlight=False, markup=False)
