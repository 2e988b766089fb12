"""`python -m ffgate`: the same command as `ffgate`, used by `ffgate dev` to start its children."""

from ffgate.cli import app

app(prog_name="ffgate")
