"""`ffgate generate`: submit a generation through the client library, follow it live, save its images.

On a terminal it shows one live line for the generation (queued with its position and ETA, submitted,
running) and then a bar per file while the images download; each status change is also printed as a
line on stderr when stderr is not a terminal (except with `--json`, which keeps stderr for errors).
stdout gets the saved paths, one a line, or with `--json` one object: the final generation (as the API
shows it) plus `"files"`, the paths saved.

Ctrl-C while the generation is under way asks whether to cancel it (when stdin is a terminal; a script's
SIGINT cancels nothing and says how to); a second Ctrl-C or "no" leaves it running and exits 130. Exit
codes: see `ffgate.cli.remote`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import click
import ffgate_client as ffc
import typer
from ffgate_client import Client, DownloadProgress, Generation
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from ffgate.cli.remote import (
    ExitCode,
    classify,
    errors_as_exit_codes,
    fail,
    interactive,
    session,
    status_text,
    stderr,
)

POLL_S = 5  # how often a queued generation's position and ETA are refreshed (long-polls end sooner on change)


@dataclass(frozen=True)
class GenerateOptions:
    prompt: str
    model: str
    n: int | None
    seeds: list[int]
    size: str | None
    model_version: str | None
    out: Path
    wait: bool
    as_json: bool
    url: str
    key: str | None
    timeout_s: float | None
    template: str


def describe_state(generation: Generation) -> str:
    """The live line for a generation: its status and what is known about where it stands."""
    text = status_text(generation)
    if generation.status == "queued" and generation.queue is not None:
        queue = generation.queue
        ahead = "next" if queue.position == 0 else f"{queue.position} ahead"
        text += f" · {ahead} · ETA {queue.eta_seconds} s"
    elif generation.status == "submitted":
        text += " · accepted by Firefly"
    elif generation.status == "failed" and generation.error is not None:
        text += f" · {escape(generation.error.code)}: {escape(generation.error.message)}"
    return f"{generation.id} {text}"


class Display:
    """Progress on stderr: live on a terminal, plain lines elsewhere, nothing with --json."""

    def __init__(self, console: Console, as_json: bool) -> None:
        self.console = console
        self.lines = not console.is_terminal and not as_json
        self.status = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        self.files = Progress(
            TextColumn("  {task.description}"),
            BarColumn(bar_width=30),
            DownloadColumn(),
            TransferSpeedColumn(),
        )
        self._live = Live(
            Group(self.status, self.files), console=console, transient=False, redirect_stdout=False
        )
        self._enabled = console.is_terminal and not as_json
        self._status_task: TaskID | None = None
        self._file_tasks: dict[int, TaskID] = {}
        self._last = ""

    def __enter__(self) -> Display:
        if self._enabled:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._live.is_started:
            self._live.stop()

    def state(self, generation: Generation) -> None:
        line = describe_state(generation)
        if self._status_task is None:
            self._status_task = self.status.add_task(line, total=None)
        self.status.update(self._status_task, description=line)
        if generation.terminal:
            self.status.stop_task(self._status_task)
            self.status.update(self._status_task, total=1, completed=1)
        if self.lines and line != self._last:
            self.console.print(line, soft_wrap=True, highlight=False)
        self._last = line

    def download(self, update: DownloadProgress) -> None:
        task = self._file_tasks.get(update.index)
        if task is None:
            task = self._file_tasks[update.index] = self.files.add_task(
                escape(update.path.name), total=update.total
            )
        self.files.update(task, completed=update.received, total=update.total)
        if update.done and self.lines:
            self.console.print(f"saved {update.path}", soft_wrap=True, highlight=False)


INTERRUPTED = "interrupted: `ffgate generations list` shows whether a generation was queued"


def run(options: GenerateOptions) -> None:
    with session(options.url, options.key, options.as_json, interrupted=INTERRUPTED) as ff:
        with errors_as_exit_codes(options.as_json):
            generation = ff.generate(
                options.prompt,
                model=options.model,
                n=options.n,
                seeds=options.seeds or None,
                size=options.size,
                model_version=options.model_version,
            )
        if not options.wait:
            finish(options, generation, [])
        with Display(stderr, options.as_json) as display:
            generation = follow(ff, generation, options, display)
            files: list[Path] = []
            if generation.status == "succeeded":
                files = save(ff, generation, options, display)
        finish(options, generation, files)


def follow(ff: Client, generation: Generation, options: GenerateOptions, display: Display) -> Generation:
    """The generation once terminal, shown live; Ctrl-C offers to cancel it."""
    try:
        with errors_as_exit_codes(options.as_json):
            for seen in ff.watch(generation, timeout=options.timeout_s, poll_s=POLL_S):
                generation = seen
                display.state(generation)
            if not generation.terminal:
                raise ffc.WaitTimeout(generation, options.timeout_s or 0)
            return generation
    except KeyboardInterrupt:
        display.stop()
        return interrupted(ff, generation, options, display)


def interrupted(ff: Client, generation: Generation, options: GenerateOptions, display: Display) -> Generation:
    """Ctrl-C while the generation is under way: cancel it if the person at the terminal says so."""
    leave = f"{generation.id} goes on; `ffgate generations cancel {generation.id}` cancels it"
    if not interactive():
        fail(ExitCode.INTERRUPTED, f"interrupted: {leave}", as_json=options.as_json)
    try:
        confirmed = typer.confirm(f"Cancel generation {generation.id}?", default=False, err=True)
    except (KeyboardInterrupt, click.Abort):
        confirmed = False
    if not confirmed:
        fail(ExitCode.INTERRUPTED, f"interrupted: {leave}", as_json=options.as_json)
    with errors_as_exit_codes(options.as_json):
        try:
            generation = ff.cancel(generation)
        except ffc.Conflict:  # it ended meanwhile
            generation = ff.get(generation)
        # Canceled at once if it never left the queue, else once Firefly confirms.
        generation = ff.wait(generation, timeout=60, poll_s=10)
    display.state(generation)
    return generation


def save(ff: Client, generation: Generation, options: GenerateOptions, display: Display) -> list[Path]:
    try:
        with errors_as_exit_codes(options.as_json):
            return ff.download(generation, options.out, template=options.template, progress=display.download)
    except KeyboardInterrupt:
        display.stop()
        fail(
            ExitCode.INTERRUPTED,
            "interrupted while downloading: no partial file was kept",
            as_json=options.as_json,
        )


def finish(options: GenerateOptions, generation: Generation, files: list[Path]) -> None:
    """Print the outcome (paths, or the JSON object) and end with the generation's exit code."""
    if options.as_json:
        typer.echo(json.dumps(generation.wire() | {"files": [str(f) for f in files]}, indent=2))
    else:
        for path in files:
            typer.echo(str(path))
    code = ExitCode.OK
    if generation.status in ("failed", "canceled"):
        failure = (
            ffc.GenerationFailed(generation)
            if generation.status == "failed"
            else ffc.GenerationCanceled(generation)
        )
        code, message = classify(failure)
        stderr.print(f"ffgate: {escape(message)}", soft_wrap=True, highlight=False)
    elif not options.wait and not options.as_json:
        typer.echo(generation.id)
    raise typer.Exit(int(code))
