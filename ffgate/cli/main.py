"""The `ffgate` command: one sub-command per process, and `dev` for all of them at once.

A command imports its process only when it runs, so `ffgate --help` stays fast and a process that cannot be
imported breaks its own command only. Each command builds the one `Settings` from the environment (the
emulator its own `EmulatorSettings`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pydantic import ValidationError

    from emulator.settings import EmulatorSettings
    from ffgate.config import Settings

app = typer.Typer(
    name="ffgate",
    help="Internal gateway to Adobe Firefly Services Custom Models.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",  # reflows docstring paragraphs
    pretty_exceptions_show_locals=False,  # locals may hold keys and secrets
)

Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(help="TCP port to listen on.", min=1, max=65535)]


def load_settings() -> Settings:
    """Settings from the FFGATE_* environment; an invalid value ends the command with a readable message."""
    from pydantic import ValidationError

    from ffgate.config import Settings

    try:
        return Settings()
    except ValidationError as exc:
        raise _invalid_configuration(exc, "FFGATE_") from None


def load_emulator_settings() -> EmulatorSettings:
    """The emulator's settings from FFGATE_EMULATOR_*; an invalid value ends the command, naming it."""
    from pydantic import ValidationError

    from emulator.settings import ENV_PREFIX, EmulatorSettings

    try:
        return EmulatorSettings()
    except ValidationError as exc:
        raise _invalid_configuration(exc, ENV_PREFIX) from None


def _invalid_configuration(exc: ValidationError, prefix: str) -> typer.Exit:
    # Listed by hand: pydantic's own message repeats the input, which may be a secret.
    lines = [f"  {prefix}{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors() if e["loc"]]
    typer.echo("ffgate: invalid configuration\n" + "\n".join(lines), err=True)
    return typer.Exit(2)


def entry_point(target: str) -> Callable[..., None]:
    """`module:function`, imported now (when the command runs, not when the CLI loads)."""
    module, _, name = target.partition(":")
    function: Callable[..., None] = getattr(importlib.import_module(module), name)
    return function


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8080) -> None:
    """Run the gateway: the HTTP API that internal clients call."""
    entry_point("service.app:serve")(load_settings(), host, port)


@app.command()
def worker() -> None:
    """Run one worker: sends queued jobs to Firefly, polls them, delivers webhooks. Stops on SIGTERM."""
    entry_point("worker.main:run")(load_settings())


@app.command()
def emulator(host: Host = "127.0.0.1", port: Port = 8090) -> None:
    """Run the Adobe IMS + Firefly emulator, for offline development and tests."""
    entry_point("emulator.app:serve")(load_emulator_settings(), host, port)


clients = typer.Typer(
    help="API clients and their keys, in the gateway's Redis (the same as `/v1/admin/clients`).",
    no_args_is_help=True,
)
app.add_typer(clients, name="clients")
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ClientId = Annotated[str, typer.Argument(help="The client's id (cli_...).")]


@clients.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="Who the client is, e.g. the calling service's name.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="A scope: models:read, generate, admin (repeat it). Default: models:read, generate."
        ),
    ] = None,
    rpm: Annotated[int, typer.Option(help="Requests per minute, over every gateway.", min=1)] = 60,
    daily_images: Annotated[
        int | None, typer.Option(help="Images per UTC day (default: no quota).", min=0)
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Create a client; prints its API key and webhook secret, this once only."""
    entry_point("ffgate.cli.clients:create")(
        load_settings(), name, scope or ["models:read", "generate"], rpm, daily_images, as_json
    )


@clients.command("list")
def clients_list(as_json: AsJson = False) -> None:
    """Every client, revoked ones included (never their keys)."""
    entry_point("ffgate.cli.clients:list_all")(load_settings(), as_json)


@clients.command("revoke")
def clients_revoke(client_id: ClientId) -> None:
    """Revoke a client: its key stops working at once, on every gateway."""
    entry_point("ffgate.cli.clients:revoke")(load_settings(), client_id)


@clients.command("rotate")
def clients_rotate(client_id: ClientId, as_json: AsJson = False) -> None:
    """Give a client a new API key (printed this once); the old one stops working at once."""
    entry_point("ffgate.cli.clients:rotate")(load_settings(), client_id, as_json)


models = typer.Typer(
    help=(
        "The operator's record of each custom model: the model version its generations use, or why the API "
        "cannot serve it (the same as `/v1/admin/custom-models`)."
    ),
    no_args_is_help=True,
)
app.add_typer(models, name="models")
AssetId = Annotated[str, typer.Argument(help="The custom model's assetId (urn:aaid:sc:...).")]


@models.command("list")
def models_list(as_json: AsJson = False) -> None:
    """Every model with a record."""
    entry_point("ffgate.cli.models:list_all")(load_settings(), as_json)


@models.command("set")
def models_set(
    asset_id: AssetId,
    version: Annotated[
        str | None,
        typer.Option("--version", help="image4_custom or image3_custom (default: FFGATE_MODEL_VERSION)."),
    ] = None,
    unavailable: Annotated[
        str | None,
        typer.Option(help="image5 or retired: refuse its generations, saying why."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Set a model's record (the whole record: options not given are cleared)."""
    entry_point("ffgate.cli.models:set_record")(load_settings(), asset_id, version, unavailable, as_json)


@models.command("clear")
def models_clear(asset_id: AssetId) -> None:
    """Forget a model's record: it uses FFGATE_MODEL_VERSION and is served again."""
    entry_point("ffgate.cli.models:clear")(load_settings(), asset_id)


@app.command()
def dev(
    host: Annotated[str, typer.Option(help="Address the gateway listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Gateway port.", min=1, max=65535)] = 8080,
    emulator_port: Annotated[int, typer.Option(help="Emulator port, when one is started.", min=1)] = 8090,
    redis_port: Annotated[int, typer.Option(help="Embedded Redis port, when one is started.", min=1)] = 6390,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
) -> None:
    """Run the whole stack locally, supervised. Ctrl-C stops everything.

    Starts Redis (an embedded one if none answers at FFGATE_REDIS_URL), the emulator (unless
    FFGATE_FIREFLY_URL is set), the workers and the gateway, then prints the URLs and an admin key.
    """
    from rich.console import Console

    from ffgate.cli.dev import DevOptions, run_dev

    options = DevOptions(host, port, emulator_port, redis_port, workers)
    raise typer.Exit(run_dev(load_settings(), load_emulator_settings(), options, Console()))
