"""`ffgate models ...`: the operator's record of each custom model (its model version, or why the API cannot
serve it), straight on Redis through ffgate.upstream.model_records, as `/v1/admin/custom-models` does."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ffgate.cli.on_redis import run_on_redis
from ffgate.config import Settings
from ffgate.upstream.model_records import ModelRecord, ModelRecords, Unavailable

T = TypeVar("T")
console = Console()


def _run(settings: Settings, action: Callable[[ModelRecords], Awaitable[T]]) -> T:
    return run_on_redis(settings, "models", lambda redis, keys: action(ModelRecords(redis, keys)))


def _print(records: list[ModelRecord], as_json: bool, default_version: str) -> None:
    if as_json:
        typer.echo(json.dumps({"items": [r.as_json() for r in records]}, indent=2))
        return
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("assetId", "modelVersion", "unavailable", "updated"):
        table.add_column(column, no_wrap=column == "assetId")
    for r in records:
        version = r.model_version or f"({default_version}, the default)"
        table.add_row(r.asset_id, version, r.unavailable or "-", r.updated_at)
    console.print(table)


def list_all(settings: Settings, as_json: bool) -> None:
    found = _run(settings, lambda records: records.all(fresh=True))
    _print(list(found.values()), as_json, settings.model_version)


def set_record(
    settings: Settings, asset_id: str, version: str | None, unavailable: Unavailable | None, as_json: bool
) -> None:
    record = _run(
        settings, lambda records: records.set(asset_id, model_version=version, unavailable=unavailable)
    )
    _print([record], as_json, settings.model_version)


def clear(settings: Settings, asset_id: str) -> None:
    _run(settings, lambda records: records.clear(asset_id))
    typer.echo(f"forgot the record of {asset_id}; it uses {settings.model_version} (FFGATE_MODEL_VERSION)")
