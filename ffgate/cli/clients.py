"""`ffgate clients ...`: client management straight on Redis, through the same domain modules as the admin
API (ffgate.clients.store, ffgate.clients.api_keys), so a key made here works on every gateway that shares
the Redis
and the key pepper."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import redis.asyncio as aioredis
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ffgate.cli.on_redis import fail, run_on_redis
from ffgate.clients.api_keys import ApiKeys, pepper_from
from ffgate.clients.store import SCOPES, ApiClient, ClientStore, Issued
from ffgate.config import Settings
from ffgate.redis.keys import Keys
from service.schemas import Client

T = TypeVar("T")
_terminal = Console()
console = _terminal if _terminal.is_terminal else Console(width=160)  # piped: no terminal width to fit


def _run(
    settings: Settings, action: Callable[[ClientStore], Awaitable[T]], *, issues_keys: bool = False
) -> T:
    async def on(redis: aioredis.Redis, keys: Keys) -> T:
        api_keys = ApiKeys(redis, keys, pepper_from(settings))
        if issues_keys and not await api_keys.pepper_matches():
            _fail(
                "the gateways run with another key pepper, so a key made here would not work there: "
                "give this command the same FFGATE_KEY_PEPPER (or, when it is unset, FFGATE_ADMIN_KEY)."
            )
        return await action(ClientStore(redis, keys, api_keys))

    return run_on_redis(settings, "clients", on)


def _fail(message: str) -> NoReturn:
    fail("clients", message)


def _table(clients: list[ApiClient]) -> Table:
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True, min_width=20)  # copied into `revoke` / `rotate`: never cut
    table.add_column("name", overflow="fold")
    table.add_column("scopes", overflow="fold")
    table.add_column("req/min", justify="right")
    table.add_column("images/day", justify="right")
    table.add_column("created", overflow="fold")
    table.add_column("status")
    for c in clients:
        status = "[red]revoked[/]" if c.revoked_at else "[green]active[/]"
        quota = "-" if c.daily_image_quota is None else str(c.daily_image_quota)
        row = (c.id, c.name, ",".join(c.scopes), str(c.requests_per_minute), quota, c.created_at[:10], status)
        table.add_row(*row)
    return table


def _print_issued(issued: Issued, as_json: bool) -> None:
    secrets = {"apiKey": issued.api_key.get_secret_value()}
    if issued.webhook_secret is not None:
        secrets["webhookSecret"] = issued.webhook_secret.get_secret_value()
    if as_json:
        typer.echo(json.dumps(Client.of(issued.client).model_dump() | secrets, indent=2))
        return
    console.print(_table([issued.client]))
    # Plain lines, unwrapped, so they can be copied as they are.
    console.print(f"API key:        {secrets['apiKey']}", soft_wrap=True, highlight=False, markup=False)
    if "webhookSecret" in secrets:
        line = f"webhook secret: {secrets['webhookSecret']}"
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    console.print("Shown this once: ffgate keeps only a keyed hash of the key.", style="yellow")


def create(
    settings: Settings, name: str, scopes: list[str], rpm: int, daily_images: int | None, as_json: bool
) -> None:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        _fail(f"unknown scope {', '.join(unknown)}; the scopes are {', '.join(SCOPES)}.")
    ordered = sorted(set(scopes), key=scopes.index)

    async def action(store: ClientStore) -> Issued:
        return await store.create(
            name=name, scopes=ordered, requests_per_minute=rpm, daily_image_quota=daily_images
        )

    _print_issued(_run(settings, action, issues_keys=True), as_json)


def list_all(settings: Settings, as_json: bool) -> None:
    found = _run(settings, lambda store: store.list())
    if as_json:
        typer.echo(json.dumps({"items": [Client.of(c).model_dump() for c in found]}, indent=2))
    else:
        console.print(_table(found))


def revoke(settings: Settings, client_id: str) -> None:
    console.print(_table([_run(settings, lambda store: store.revoke(client_id))]))


def rotate(settings: Settings, client_id: str, as_json: bool) -> None:
    _print_issued(_run(settings, lambda store: store.rotate(client_id), issues_keys=True), as_json)
