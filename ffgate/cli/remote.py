"""The commands that talk to a gateway over HTTP, as any caller does, through the client library
(`ffgate_client`): `ffgate models`, `ffgate generations list|show|cancel`, and what `ffgate generate`
shares with them: the exit codes, one-line error messages, and how a client is made from `--url`/`--key`.

Exit codes (the same for every such command; `ffgate generate` documents them in its help):

    0   succeeded (for `generate --no-wait`: accepted)
    1   an unexpected error (a bug: please report it)
    2   bad usage (an unknown option, a malformed `--size`, no API key)
    3   the generation failed
    4   the generation was canceled
    5   the gateway refused the request (400, 404, 409, 413, 415, 422), e.g. a prompt it does not accept
    6   no such model (by assetId or displayName)
    7   the key was refused: unknown or revoked (401), or without the needed scope (403)
    8   rate limit or daily image quota reached (429, after the retries)
    9   the gateway is unreachable, or answered 5xx or nonsense (after the retries)
    10  a download was interrupted, refused or did not match its announced size or SHA-256
    11  an output could not be written (disk full, no permission)
    12  `--timeout` passed before the generation finished
    130 interrupted (Ctrl-C) without canceling the generation
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Any, NoReturn

import ffgate_client as ffc
import typer
from ffgate_client import Client, Generation
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1
    USAGE = 2
    FAILED = 3
    CANCELED = 4
    REFUSED = 5
    UNKNOWN_MODEL = 6
    KEY_REFUSED = 7
    RATE_LIMITED = 8
    UNREACHABLE = 9
    DOWNLOAD = 10
    WRITE = 11
    TIMEOUT = 12
    INTERRUPTED = 130


_terminal = Console()
stdout = _terminal if _terminal.is_terminal else Console(width=160)  # piped: no terminal width to fit
stderr = Console(stderr=True)


def classify(error: BaseException) -> tuple[ExitCode, str]:
    """The exit code and the one-line message for an error of the client library."""
    problem = getattr(error, "problem", None)
    request = f" [request {problem.request_id}]" if problem is not None and problem.request_id else ""
    match error:
        case ffc.ModelNotFound():
            return ExitCode.UNKNOWN_MODEL, f"{error}{request}"
        case ffc.AuthenticationError():
            return ExitCode.KEY_REFUSED, f"the gateway refused the key (401): {error.detail}{request}"
        case ffc.PermissionDenied():
            return ExitCode.KEY_REFUSED, f"the key may not do this (403): {error.detail}{request}"
        case ffc.RateLimited():
            return ExitCode.RATE_LIMITED, f"{error.detail} (429){request}"
        case ffc.RequestRefused():
            return ExitCode.REFUSED, f"refused ({error.status}): {_details(error.problem)}{request}"
        case ffc.ServerError():
            return ExitCode.UNREACHABLE, f"the gateway failed ({error.status}): {error.detail}{request}"
        case ffc.GatewayUnreachable() | ffc.ProtocolError():
            return ExitCode.UNREACHABLE, str(error)
        case ffc.WriteError():
            return ExitCode.WRITE, str(error)
        case ffc.DownloadError():
            return ExitCode.DOWNLOAD, str(error)
        case ffc.WaitTimeout():
            return ExitCode.TIMEOUT, str(error)
        case ffc.GenerationFailed():
            return ExitCode.FAILED, str(error)
        case ffc.GenerationCanceled():
            return ExitCode.CANCELED, str(error)
    return ExitCode.INTERNAL, f"unexpected error ({type(error).__name__}): {error}"


def _details(problem: ffc.Problem) -> str:
    """The problem's detail, with its validation messages when it has them (each field once)."""
    found = [
        f"{'.'.join(str(p) for p in e.get('loc', [])[1:]) or 'body'}: {e.get('msg')}"
        for e in problem.errors or []
    ]
    messages = [m for m in dict.fromkeys(found) if m.split(": ", 1)[-1] not in problem.detail]
    return "; ".join([problem.detail, *messages]) if messages else problem.detail


def fail(
    code: ExitCode, message: str, *, as_json: bool = False, problem: ffc.Problem | None = None
) -> NoReturn:
    """End the command: one line on stderr (and, with --json, one object on stdout), and the exit code."""
    stderr.print(f"ffgate: {escape(message)}", soft_wrap=True, highlight=False)
    if as_json:
        error: dict[str, Any] = {"message": message}
        if problem is not None:
            error |= {
                k: v for k, v in problem.wire().items() if k in ("type", "status", "detail", "requestId")
            }
        typer.echo(json.dumps({"error": error, "exitCode": int(code)}))
    raise typer.Exit(int(code))


@contextmanager
def errors_as_exit_codes(as_json: bool = False) -> Iterator[None]:
    """Turns every error of the client library raised inside into its exit code and one-line message."""
    try:
        yield
    except ffc.FfgateClientError as exc:
        code, message = classify(exc)
        fail(code, message, as_json=as_json, problem=getattr(exc, "problem", None))
    except ValueError as exc:  # a malformed option value the library refused (size, URL, template)
        fail(ExitCode.USAGE, str(exc), as_json=as_json)


class _RetryNotes(logging.Handler):
    """Shows the client library's retry warnings ("503; sending again in 1.0 s") as dim lines."""

    def emit(self, record: logging.LogRecord) -> None:
        stderr.print(f"[dim]{escape(record.getMessage())}[/]", soft_wrap=True, highlight=False)


@contextmanager
def session(
    url: str, key: str | None, as_json: bool = False, *, interrupted: str = "interrupted"
) -> Iterator[Client]:
    """A client of the gateway at `url` with `key`; its retries shown when a person is watching, and a
    Ctrl-C that nothing inside handled ends the command with `interrupted` and exit code 130."""
    if not key:
        fail(ExitCode.USAGE, "no API key: give --key or set FFGATE_KEY", as_json=as_json)
    try:
        client = Client(url, key)
    except ValueError as exc:
        fail(ExitCode.USAGE, str(exc), as_json=as_json)
    logger = logging.getLogger("ffgate_client")
    notes = _RetryNotes() if stderr.is_terminal and not as_json else None
    if notes is not None:
        logger.addHandler(notes)
    try:
        with client:
            yield client
    except KeyboardInterrupt:
        fail(ExitCode.INTERRUPTED, interrupted, as_json=as_json)
    finally:
        if notes is not None:
            logger.removeHandler(notes)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2))


# --- ffgate models ------------------------------------------------------------------------------------------


def models(
    url: str, key: str | None, training_mode: str | None, published_state: str | None, as_json: bool
) -> None:
    with session(url, key, as_json) as ff, errors_as_exit_codes(as_json):
        found = ff.models(training_mode=training_mode, published_state=published_state)
    if as_json:
        print_json({"items": [m.wire() for m in found]})
        return
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("displayName", overflow="fold")
    table.add_column("assetId", no_wrap=True)  # copied into --model: never cut
    table.add_column("mode")
    table.add_column("concept")
    table.add_column("state")
    for m in found:
        table.add_row(
            m.display_name or "",
            m.asset_id,
            m.training_mode or "",
            m.concept_id or "",
            m.published_state or "",
        )
    stdout.print(table)


# --- ffgate generations -------------------------------------------------------------------------------------

_STATUS_STYLE = {"succeeded": "green", "failed": "red", "canceled": "yellow"}


def status_text(generation: Generation) -> str:
    style = _STATUS_STYLE.get(generation.status, "cyan")
    return f"[{style}]{generation.status}[/]"


def _prompt(generation: Generation, width: int = 60) -> str:
    prompt = str(generation.request.get("prompt", ""))
    return prompt if len(prompt) <= width else prompt[: width - 1] + "…"


def list_generations(url: str, key: str | None, status: str | None, limit: int, as_json: bool) -> None:
    with session(url, key, as_json) as ff, errors_as_exit_codes(as_json):
        found: list[Generation] = []
        for generation in ff.list(status=status, page_size=min(limit, 100)):
            found.append(generation)
            if len(found) >= limit:
                break
    if as_json:
        print_json({"items": [g.wire() for g in found]})
        return
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True)
    table.add_column("status")
    table.add_column("created", no_wrap=True)
    table.add_column("images", justify="right")
    table.add_column("prompt", overflow="fold")
    for g in found:
        table.add_row(g.id, status_text(g), g.created_at[:19], str(len(g.outputs)), escape(_prompt(g)))
    stdout.print(table)


def describe(generation: Generation) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("id", generation.id)
    table.add_row("status", status_text(generation))
    table.add_row("prompt", escape(str(generation.request.get("prompt", ""))))
    table.add_row("model", escape(str(generation.request.get("customModelId", ""))))
    table.add_row("created", generation.created_at)
    if generation.completed_at:
        table.add_row("completed", generation.completed_at)
    if generation.queue is not None:
        table.add_row("queue", f"position {generation.queue.position}, ETA {generation.queue.eta_seconds} s")
    if generation.upstream is not None:
        table.add_row("Firefly job", generation.upstream.job_id)
    if generation.error is not None:
        table.add_row("error", escape(f"{generation.error.code}: {generation.error.message}"))
    for warning in generation.warnings:
        table.add_row("warning", escape(warning))
    for index, output in enumerate(generation.outputs):
        image = output.image
        size = f"{image.width}x{image.height}" if image.width and image.height else ""
        table.add_row(f"output {index}", escape(f"seed {output.seed} {size} {image.url}"))
    return table


def show(url: str, key: str | None, gen_id: str, as_json: bool) -> None:
    with session(url, key, as_json) as ff, errors_as_exit_codes(as_json):
        generation = ff.get(gen_id)
    if as_json:
        print_json(generation.wire())
    else:
        stdout.print(describe(generation), soft_wrap=True)


def cancel(url: str, key: str | None, gen_id: str, as_json: bool) -> None:
    with session(url, key, as_json) as ff, errors_as_exit_codes(as_json):
        generation = ff.cancel(gen_id)
    if as_json:
        print_json(generation.wire())
    else:
        stdout.print(describe(generation), soft_wrap=True)


def interactive() -> bool:
    return sys.stdin.isatty()
