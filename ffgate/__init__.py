"""The `ffgate` command line: `ffgate serve|worker|emulator|dev` (see `ffgate.cli`)."""
