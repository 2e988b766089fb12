"""The `ffgate` command line (see `ffgate.cli.main`)."""

from ffgate.cli.main import app

__all__ = ["app"]
