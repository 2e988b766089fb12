"""`ffgate dataset check`: shows the report of ffgate.datasets.check_dataset as rich tables (or --json) and
exits 1 when an error-level rule fails (2 when the folder cannot be checked at all)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ffgate.datasets import SOURCES, DatasetError, Finding, Report, check_dataset
from ffgate.datasets.captions import words

_terminal = Console()
console = _terminal if _terminal.is_terminal else Console(width=160)
_STYLE = {"error": "red", "warning": "yellow", "info": "dim"}


def _finding(f: Finding) -> str:
    source = f" [dim]\\[{f.source}][/]" if f.source else ""
    return f"[{_STYLE[f.severity]}]{f.severity}[/] {f.rule}: {escape(f.message)}{source}"


def render(report: Report) -> None:
    table = Table(
        box=box.SIMPLE_HEAD, title=f"{escape(report.directory)} ({report.mode} set)", title_justify="left"
    )
    table.add_column("image", overflow="fold", max_width=32)
    table.add_column("size", no_wrap=True)
    table.add_column("caption", justify="right")
    table.add_column("findings", overflow="fold")
    for image in report.images:
        size = f"{image.width}x{image.height}" if image.width and image.height else "-"
        caption = f"{len(words(image.caption))} words" if image.caption else "-"
        findings = "\n".join(_finding(f) for f in image.findings) or "[green]ok[/]"
        table.add_row(escape(image.file), size, caption, findings)
    console.print(table)
    for f in report.findings:
        console.print(_finding(f), soft_wrap=True)
    errors, warnings = report.count("error"), report.count("warning")
    verdict = "[green]passed[/]" if report.passed else "[red]failed[/]"
    console.print(f"{len(report.images)} files, {errors} errors, {warnings} warnings: {verdict}")
    used = sorted({f.source for f in report.all_findings() if f.source})
    for tag in used:
        console.print(f"[dim]\\[{tag}] {escape(SOURCES[tag])}[/]", soft_wrap=True)


def check(directory: Path, mode: Literal["subject", "style"], concept: str | None, as_json: bool) -> None:
    try:
        report = check_dataset(directory, mode, concept)
    except DatasetError as exc:
        typer.echo(f"ffgate dataset check: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        render(report)
    raise typer.Exit(0 if report.passed else 1)
