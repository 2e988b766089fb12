"""The `ffgate` command: one sub-command per process, and `dev` for all of them at once.

A command imports its process only when it runs, so `ffgate --help` stays fast and a process that cannot be
imported breaks its own command only. Each command builds the one `Settings` from the environment (the
emulator its own `EmulatorSettings`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

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
    # An error of no one field (loc empty) names its variables in its message.
    lines = [
        f"  {prefix}{str(e['loc'][0]).upper()}: {e['msg']}" if e["loc"] else f"  {e['msg']}"
        for e in exc.errors()
    ]
    typer.echo("ffgate: invalid configuration\n" + "\n".join(lines), err=True)
    return typer.Exit(2)


def entry_point(target: str) -> Callable[..., None]:
    """`module:function`, imported now (when the command runs, not when the CLI loads)."""
    module, _, name = target.partition(":")
    function: Callable[..., None] = getattr(importlib.import_module(module), name)
    return function


@app.command()
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8080,
    workers: Annotated[
        int,
        typer.Option(
            help="Gateway processes sharing the port (uvicorn workers); /metrics adds up all of them.",
            min=1,
            max=64,
        ),
    ] = 1,
) -> None:
    """Run the gateway: the HTTP API that internal clients call."""
    entry_point("service.app:serve")(load_settings(), host, port, workers)


@app.command()
def worker(
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="Serve /metrics, /healthz and /readyz on this port (0: none). "
            "Default: FFGATE_WORKER_METRICS_PORT.",
            min=0,
            max=65535,
        ),
    ] = None,
) -> None:
    """Run one worker: sends queued jobs to Firefly, polls them, delivers webhooks. Stops on SIGTERM."""
    settings = load_settings()
    if metrics_port is not None:
        settings = settings.model_copy(update={"worker_metrics_port": metrics_port})
    entry_point("worker.main:run")(settings)


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


# --- talking to a gateway over HTTP, as any caller does (ffgate.cli.remote, ffgate.cli.generate) -----------

GatewayUrl = Annotated[
    str, typer.Option("--url", envvar="FFGATE_URL", help="The gateway's base URL.", show_envvar=True)
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--key", envvar="FFGATE_KEY", help="Your API key (ffk_...).", show_envvar=True, show_default=False
    ),
]
DEFAULT_GATEWAY = "http://127.0.0.1:8080"
GenId = Annotated[str, typer.Argument(help="The generation's id (gen_...).")]
EXIT_CODES = (
    "Exit codes: 0 succeeded; 3 failed; 4 canceled; 5 refused by the gateway (4xx); 6 unknown model; "
    "7 key refused (401/403); 8 rate limit or quota (429); 9 gateway unreachable or failing; "
    "10 download failed; 11 cannot write the output; 12 --timeout passed; 130 interrupted; 2 bad usage "
    "(or no client library installed)."
)


def client_entry_point(target: str) -> Callable[..., None]:
    """`entry_point` for the commands built on the client library, a package of its own (clients/python)
    that an installation may lack: then one line says so, not a traceback."""
    try:
        return entry_point(target)
    except ModuleNotFoundError as exc:
        if exc.name != "ffgate_client":
            raise
        typer.echo("ffgate: this command needs the client library: pip install ./clients/python", err=True)
        raise typer.Exit(2) from None


@app.command(epilog=EXIT_CODES)
def generate(
    prompt: Annotated[str, typer.Argument(help='What to generate, e.g. "a white router on a volcano".')],
    model: Annotated[
        str, typer.Option("--model", "-m", help="The custom model: its assetId or displayName.")
    ],
    n: Annotated[int | None, typer.Option("-n", "--n", help="Variations (1-4).", min=1, max=4)] = None,
    seed: Annotated[
        list[int] | None, typer.Option("--seed", help="A seed (repeat it, one per image).")
    ] = None,
    size: Annotated[str | None, typer.Option(help="WIDTHxHEIGHT, a preset of the model version.")] = None,
    model_version: Annotated[
        str | None, typer.Option(help="x-model-version, e.g. image4_custom (default: the gateway's).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where the images are saved.", file_okay=False)] = Path("."),
    wait: Annotated[bool, typer.Option(help="Wait for the images and save them, or only submit.")] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print one JSON object: the final generation plus its "files".')
    ] = False,
    timeout: Annotated[
        float | None, typer.Option(help="Give up waiting after this many seconds.", min=1)
    ] = None,
    name: Annotated[
        str, typer.Option(help="File names: {id}, {index} (0-based), {n} (1-based), {seed}, {ext}.")
    ] = "{id}-{n}.{ext}",
    url: GatewayUrl = DEFAULT_GATEWAY,
    key: ApiKey = None,
) -> None:
    """Generate images with a custom model, follow the job live and save the images.

    Shows the generation's progress (queued with its position and ETA, submitted, running, then a bar
    per file) and prints the saved paths. Ctrl-C asks whether to cancel the generation.
    """
    run = client_entry_point("ffgate.cli.generate:run")
    from ffgate.cli.generate import GenerateOptions

    run(
        GenerateOptions(
            prompt, model, n, seed or [], size, model_version, out, wait, as_json, url, key, timeout, name
        )
    )


models = typer.Typer(
    help=(
        "The custom models the gateway can use (over HTTP, as any caller); `set`, `clear` and `records`: "
        "the operator's record of a model (its model version, or why the API cannot serve it), straight on "
        "the gateways' Redis, as `/v1/admin/custom-models` does."
    ),
    invoke_without_command=True,
    epilog=EXIT_CODES,
)
app.add_typer(models, name="models")
AssetId = Annotated[str, typer.Argument(help="The custom model's assetId (urn:aaid:sc:...).")]


@models.callback(invoke_without_command=True)
def models_list(
    ctx: typer.Context,
    training_mode: Annotated[
        Literal["subject", "style"] | None, typer.Option(help="Only subject or style models.")
    ] = None,
    published_state: Annotated[
        str | None, typer.Option(help="Firefly's publishedState filter, e.g. all (default: published).")
    ] = None,
    as_json: AsJson = False,
    url: GatewayUrl = DEFAULT_GATEWAY,
    key: ApiKey = None,
) -> None:
    """The custom models the gateway can use, in a table (or --json)."""
    if ctx.invoked_subcommand is None:
        client_entry_point("ffgate.cli.remote:models")(url, key, training_mode, published_state, as_json)


@models.command("records")
def models_records(as_json: AsJson = False) -> None:
    """Every model with an operator's record (FFGATE_REDIS_URL: the gateways' Redis)."""
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


generations = typer.Typer(help="Your generations on a gateway: list, show, cancel.", no_args_is_help=True)
app.add_typer(generations, name="generations")


@generations.command("list", epilog=EXIT_CODES)
def generations_list(
    status: Annotated[
        Literal["queued", "submitted", "running", "succeeded", "failed", "canceled"] | None,
        typer.Option(help="Only those in this status."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.", min=1)] = 20,
    as_json: AsJson = False,
    url: GatewayUrl = DEFAULT_GATEWAY,
    key: ApiKey = None,
) -> None:
    """Your generations, newest first."""
    client_entry_point("ffgate.cli.remote:list_generations")(url, key, status, limit, as_json)


@generations.command("show", epilog=EXIT_CODES)
def generations_show(
    gen_id: GenId, as_json: AsJson = False, url: GatewayUrl = DEFAULT_GATEWAY, key: ApiKey = None
) -> None:
    """One generation: status, queue place, outputs, error."""
    client_entry_point("ffgate.cli.remote:show")(url, key, gen_id, as_json)


@generations.command("cancel", epilog=EXIT_CODES)
def generations_cancel(
    gen_id: GenId, as_json: AsJson = False, url: GatewayUrl = DEFAULT_GATEWAY, key: ApiKey = None
) -> None:
    """Cancel a generation (at once if it is still queued, else once Firefly confirms)."""
    client_entry_point("ffgate.cli.remote:cancel")(url, key, gen_id, as_json)


# --- training sets (ffgate.datasets, shown by ffgate.cli.dataset) -------------------------------------------

dataset = typer.Typer(help="Custom-model training sets.", no_args_is_help=True)
app.add_typer(dataset, name="dataset")


@dataset.command("check")
def dataset_check(
    directory: Annotated[
        Path, typer.Argument(help="The folder of training images (and caption files).", file_okay=False)
    ],
    mode: Annotated[Literal["subject", "style"], typer.Option(help="What the model will learn.")],
    concept: Annotated[
        str | None,
        typer.Option(help="Subject mode: the concept word every caption should name, e.g. router."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Check a training set against Adobe's documented requirements before uploading it to Firefly.

    Reports each image (unreadable or unsupported files, too small, aspect ratio, near-duplicates,
    captions missing or too short, the concept missing; for style sets, phrases repeated across most
    captions) and the set as a whole. Exits 1 when an error-level rule fails.
    """
    entry_point("ffgate.cli.dataset:check")(directory, mode, concept, as_json)


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
